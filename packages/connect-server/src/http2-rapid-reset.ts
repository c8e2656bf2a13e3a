import { sendPing } from "./http2-pings.js";
import { cutSession, type SessionState } from "./http2-session-state.js";
import type { Logger } from "./log.js";

/**
 * Our rapid-reset budget, the shape of nghttp2's own (burst 1000, 33/s;
 * CVE-2023-44487): when it runs out the connection is destroyed, because
 * nghttp2 at that point sends GOAWAY and stops reading but never closes
 * the socket, and Node 20 gives no event for it.
 */
export const RESET_BURST = 1000;
const RESET_RATE_PER_S = 33;
/** Streams reset by the client between two probe pings (see {@link chargeClientReset}). */
const RESETS_PER_PROBE = 100;

/**
 * The client reset one of the connection's streams (RST_STREAM with an
 * error code: a cancel, or a rapid-reset attack if many come fast). Takes
 * a token from the connection's reset budget, a bucket refilled at
 * RESET_RATE_PER_S, and cuts the connection when it is empty.
 */
export function chargeClientReset(state: SessionState, logger: Logger): void {
  const now = Date.now();
  state.resetTokens = Math.min(
    RESET_BURST,
    state.resetTokens + ((now - state.resetTokensAt) * RESET_RATE_PER_S) / 1000,
  );
  state.resetTokensAt = now;
  if (--state.resetTokens < 0) {
    cutSession(
      state,
      logger,
      "http2 connection destroyed: rapid reset (too many streams reset by the client)",
      {
        burst: RESET_BURST,
        ratePerSecond: RESET_RATE_PER_S,
      },
    );
    return;
  }
  // Every so many resets, check that the session still answers: nghttp2
  // may have given up on it (its own limits), leaving a silent socket.
  if (++state.resetsSinceProbe >= RESETS_PER_PROBE && state.pingSentAt === undefined) {
    state.resetsSinceProbe = 0;
    sendPing(state, logger);
  }
}
