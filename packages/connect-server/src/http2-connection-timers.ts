import type { Http2ConnectionPolicy } from "./http2-connection-policy.js";
import { sendPing } from "./http2-pings.js";
import { cutSession, remoteOf, type SessionState } from "./http2-session-state.js";
import type { Logger } from "./log.js";

// A connection's timers, checked by one sweep over every connection (the
// idle timeout, keepalive and its timeout) rather than a timer each, so a
// call never touches a timer; max age is one unref'd timer per connection.

/** How often to sweep: a tenth of the shortest period, so timers fire at most 10 % late. */
export function sweepIntervalMs(policy: Http2ConnectionPolicy): number {
  const periods = [policy.idleTimeoutMs, policy.keepaliveTimeMs, policy.keepaliveTimeoutMs].filter(
    (t) => t > 0,
  );
  return Math.max(10, Math.min(1000, ...periods.map((t) => t / 10)));
}

/**
 * One connection at a sweep: cut if our PING went unanswered for
 * `keepaliveTimeoutMs`, else GOAWAY if it had no call for `idleTimeoutMs`,
 * else a keepalive PING if one is due.
 */
export function sweepSession(
  state: SessionState,
  policy: Http2ConnectionPolicy,
  logger: Logger,
  now: number,
): void {
  const { idleTimeoutMs, keepaliveTimeMs, keepaliveTimeoutMs } = policy;
  if (state.pingSentAt !== undefined && now - state.pingSentAt > keepaliveTimeoutMs) {
    cutSession(state, logger, "http2 connection destroyed: ping not answered", { keepaliveTimeoutMs });
    return;
  }
  if (
    idleTimeoutMs > 0 &&
    !state.closing &&
    state.streams.size === 0 &&
    now - state.idleSince >= idleTimeoutMs
  ) {
    state.closing = true;
    logger.log("debug", "http2 connection idle: GOAWAY", { remote: remoteOf(state.session), idleTimeoutMs });
    state.session.close();
    return;
  }
  if (
    keepaliveTimeMs > 0 &&
    state.pingSentAt === undefined &&
    now - state.lastKeepaliveAt >= keepaliveTimeMs
  ) {
    state.lastKeepaliveAt = now;
    sendPing(state, logger);
  }
}

/**
 * Max connection age: GOAWAY after `maxConnectionAgeMs` ±10 % (the jitter
 * spreads out reconnection storms, as grpc-go's does), then destroy the
 * connection if its calls have not finished within `maxConnectionAgeGraceMs`.
 */
export function scheduleMaxAge(state: SessionState, policy: Http2ConnectionPolicy): void {
  const { maxConnectionAgeMs, maxConnectionAgeGraceMs } = policy;
  const jittered = maxConnectionAgeMs * (0.9 + Math.random() * 0.2);
  const ageTimer = setTimeout(() => {
    state.closing = true;
    state.session.close();
    const graceTimer = setTimeout(() => state.session.destroy(), maxConnectionAgeGraceMs);
    graceTimer.unref();
    state.session.once("close", () => clearTimeout(graceTimer));
  }, jittered);
  ageTimer.unref();
  state.session.once("close", () => clearTimeout(ageTimer));
}
