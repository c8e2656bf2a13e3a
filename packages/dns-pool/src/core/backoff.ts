/** Exponential backoff with jitter, as in gRPC's connection backoff spec. */
export interface BackoffOptions {
  /** First delay, in milliseconds. */
  initialMs: number;
  /** Largest delay, in milliseconds. */
  maxMs: number;
  /** Factor applied after each failure. */
  multiplier: number;
  /** Random spread, as a fraction of the delay: 0.2 means ±20 %. */
  jitter: number;
}

/** Successive delays of one retry loop; `reset()` after a success. */
export class Backoff {
  private next: number;

  /**
   * @param options - the delays.
   * @param random - a source of uniform numbers in [0, 1); `Math.random` by
   *   default, injectable so tests can pin the jitter.
   */
  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {
    this.next = options.initialMs;
  }

  /** The delay before the next attempt; grows for the one after. */
  nextDelayMs(): number {
    const { maxMs, multiplier, jitter } = this.options;
    const base = this.next;
    this.next = Math.min(base * multiplier, maxMs);
    return Math.max(0, Math.round(base * (1 + jitter * (this.random() * 2 - 1))));
  }

  /** Starts over from the initial delay. */
  reset(): void {
    this.next = this.options.initialMs;
  }
}

/** The backoff both resolvers use after a failed resolution: doubling from `initialMs` to `maxMs`, ±20 %. */
export function resolutionBackoff(initialMs: number, maxMs: number): Backoff {
  return new Backoff({ initialMs, maxMs, multiplier: 2, jitter: 0.2 });
}
