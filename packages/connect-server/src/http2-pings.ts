import * as http2 from "node:http2";
import type { Http2ConnectionPolicy } from "./http2-connection-policy.js";
import { cutSession, remoteOf, type SessionState } from "./http2-session-state.js";
import type { Logger } from "./log.js";

const { NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** Pings earned beyond this many strikes close the connection (grpc-go's maxPingStrikes). */
const MAX_PING_STRIKES = 2;
/** grpc-go's minimum interval for pings on a connection with no call, when PermitWithoutStream is off. */
const NO_CALL_PING_MIN_MS = 2 * 60 * 60 * 1000;
/** A PING ACK (or PING) frame: 9 bytes of header, 8 of payload. */
const PING_FRAME_BYTES = 17;

/**
 * Sends our own PING (a keepalive, or a probe that the session still
 * answers). While it is unanswered `pingSentAt` is set, for the sweep to
 * cut the connection after `keepaliveTimeoutMs`; a failed ping cuts it now.
 */
export function sendPing(state: SessionState, logger: Logger): void {
  const sentAt = Date.now();
  state.pingSentAt = sentAt;
  state.ownPingsSinceClientPing++;
  try {
    state.session.ping((err) => {
      if (state.pingSentAt === sentAt) state.pingSentAt = undefined;
      if (err) cutSession(state, logger, "http2 connection destroyed: ping failed", { err });
    });
  } catch {
    // The session is closing or destroyed; the sweep forgets it on "close".
    state.pingSentAt = undefined;
  }
}

/**
 * The client sent a PING: ping enforcement, as grpc-go's server does it
 * (handlePing in http2_server.go). A client that pings too often earns a
 * strike; past MAX_PING_STRIKES it gets GOAWAY ENHANCE_YOUR_CALM
 * "too_many_pings" and the connection closes.
 */
export function enforcePingPolicy(state: SessionState, policy: Http2ConnectionPolicy, logger: Logger): void {
  const now = Date.now();
  const written = state.session.socket?.bytesWritten ?? 0;
  // Our PING ACKs and our own PINGs aside, did the server send anything
  // (headers, data) since the last client ping? Then the ping is fine:
  // gRPC clients ping to measure bandwidth (BDP) while receiving data.
  const framesOfPings = PING_FRAME_BYTES * (1 + state.ownPingsSinceClientPing);
  const sentData = written - state.bytesWrittenAtClientPing > framesOfPings;
  const minTime =
    state.streams.size > 0 || policy.keepalivePermitWithoutCalls
      ? policy.keepaliveMinTimeMs
      : NO_CALL_PING_MIN_MS;
  if (sentData) state.pingStrikes = 0;
  else if (now - state.lastClientPingAt < minTime) state.pingStrikes++;
  state.lastClientPingAt = now;
  state.bytesWrittenAtClientPing = written;
  state.ownPingsSinceClientPing = 0;
  if (state.pingStrikes > MAX_PING_STRIKES && !state.closing) {
    state.closing = true;
    logger.log("warn", "http2 connection closed: too many pings", {
      remote: remoteOf(state.session),
      keepaliveMinTimeMs: minTime,
    });
    state.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from("too_many_pings"));
    // grpc-go closes the connection with the GOAWAY; give the frame a moment to leave.
    setTimeout(() => state.session.destroy(), 100).unref();
  }
}
