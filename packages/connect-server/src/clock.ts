/**
 * A handle of a timer from a {@link Clock}: Node's `Timeout`, or a fake's.
 * `unref()` lets the process exit while the timer is pending.
 */
export interface TimerHandle {
  /** Stops the timer from keeping the process alive. */
  unref(): unknown;
}

/**
 * Time as the server's timing logic sees it: the connection policy (idle
 * timeout, keepalive and ping enforcement, request-idle timeout, the
 * rapid-reset budget, max age, the cut), protocol detection, the
 * connection table's sweeps and the drain. Injected so that these can be
 * driven by a fake clock in unit tests (`@rngbalance/connect-server/testing`'s
 * `FakeClock`); the default is {@link systemClock}.
 *
 * Not behind it: Node's own HTTP/1.1 timeouts, connect-node's deadlines and
 * the fast path's (which must agree with connect-node's), and measurements
 * (telemetry durations, ORCA sampling), which read real time by design.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; the timer keeps the process alive unless unref'd. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer set with {@link setTimeout}; `undefined` and fired timers are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Calls `callback` every `ms` milliseconds until cleared; keeps the process alive unless unref'd. */
  setInterval(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer set with {@link setInterval}; `undefined` is ignored. */
  clearInterval(handle: TimerHandle | undefined): void;
}

/** The real clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
};

/** Waits `ms` on `clock` (a timer that keeps the process alive meanwhile). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
