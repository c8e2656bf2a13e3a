/**
 * A handle of a timer from a {@link Clock}: Node's `Timeout`, or a fake's.
 * `unref()` lets the process exit while the timer is pending.
 */
export interface TimerHandle {
  /** Stops the timer from keeping the process alive. */
  unref(): unknown;
}

/**
 * Time as the pool's parts see it. Injected so that timers (deadlines,
 * backoff, outlier sweeps) can be driven by a fake in unit tests; the
 * default is {@link systemClock}.
 */
export interface Clock {
  /** Milliseconds since the epoch, as `Date.now()`. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; the timer keeps the process alive unless unref'd. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; `undefined` and fired timers are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /**
   * Optional: a monotonic time in fractional milliseconds, for measuring
   * how long a call took (latency-aware policies need sub-millisecond
   * resolution on fast networks). Default: `now()`, which fakes use.
   */
  precise?(): number;
}

/** The real clock: `Date.now()`, Node's timers and `performance.now()` for durations. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
  precise: () => performance.now(),
};

/** `clock.precise()` where the clock has it, else `clock.now()`: for durations only. */
export function preciseNow(clock: Clock): number {
  return clock.precise === undefined ? clock.now() : clock.precise();
}

/**
 * Waits `ms` on `clock`. Rejects (with the signal's reason) if `signal`
 * aborts first, as `timers/promises.setTimeout` does.
 */
export function sleep(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<void> {
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
