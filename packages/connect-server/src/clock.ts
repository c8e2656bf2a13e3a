/**
 * Time as the server's timing logic sees it: the connection policy (idle
 * timeout, keepalive and ping enforcement, request-idle timeout, the
 * rapid-reset budget, max age, the cut), protocol detection, the
 * connection table's sweeps and the drain. It is `@rngbalance/clock`'s
 * `IntervalClock` (shared with dns-pool), injected so that these can be
 * driven by a fake clock in unit tests (`@rngbalance/connect-server/testing`'s
 * `FakeClock`); the default is `systemClock`.
 *
 * Not behind it: Node's own HTTP/1.1 timeouts, connect-node's deadlines and
 * the fast path's (which must agree with connect-node's), and measurements
 * (telemetry durations, ORCA sampling), which read real time by design.
 */
export { type IntervalClock as Clock, sleep, systemClock, type TimerHandle } from "@rngbalance/clock";
