/**
 * Time as code with timeouts sees it, injected so that the timeouts can be
 * driven by a fake clock in unit tests (`@rngbalance/clock/testing`'s
 * `FakeClock`) instead of real waits. `@rngbalance/dns-pool` (deadlines,
 * backoff, outlier sweeps) and `@rngbalance/connect-server` (connection
 * policy, drain) take one; the default is {@link systemClock}.
 *
 * @packageDocumentation
 */

/**
 * A handle of a timer from a {@link Clock}: Node's `Timeout`, or a fake's.
 * `unref()` lets the process exit while the timer is pending.
 */
export interface TimerHandle {
  /** Stops the timer from keeping the process alive. */
  unref(): unknown;
}

/** Now, and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; the timer keeps the process alive unless unref'd. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer set with {@link Clock.setTimeout}; `undefined` and fired timers are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /**
   * Optional: a monotonic time in fractional milliseconds, for measuring
   * how long something took (latency-aware balancing needs sub-millisecond
   * resolution on fast networks). Default: `now()`, which fakes use.
   */
  precise?(): number;
}

/** A {@link Clock} with interval timers too. */
export interface IntervalClock extends Clock {
  /** Calls `callback` every `ms` milliseconds until cleared; keeps the process alive unless unref'd. */
  setInterval(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer set with {@link IntervalClock.setInterval}; `undefined` is ignored. */
  clearInterval(handle: TimerHandle | undefined): void;
}

/** The real clock: `Date.now()`, Node's timers, and `performance.now()` for durations. */
export const systemClock: IntervalClock & { precise(): number } = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout | undefined),
  precise: () => performance.now(),
};

/** `clock.precise()` where the clock has it, else `clock.now()`: for durations only. */
export function preciseNow(clock: Clock): number {
  return clock.precise === undefined ? clock.now() : clock.precise();
}

/**
 * Waits `ms` on `clock` (the timer keeps the process alive meanwhile).
 * Rejects with the signal's reason if `signal` aborts first, as
 * `timers/promises.setTimeout` does.
 */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
