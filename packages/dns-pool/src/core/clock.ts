/**
 * Time as the pool's parts see it (deadlines, backoff, outlier sweeps,
 * latency measurements): the injectable clock of `@rngbalance/clock`, shared
 * with connect-server. The default is `systemClock`; tests pass a `FakeClock`
 * (`@rngbalance/dns-pool/testing`).
 */
export { type Clock, preciseNow, sleep, systemClock, type TimerHandle } from "@rngbalance/clock";
