import type { Clock } from "../core/clock.js";

/**
 * gRFC A6 `retryThrottling`: a token bucket shared by every call of the
 * pool. It starts full; each attempt that fails with a retryable (retry
 * policy) or non-fatal (hedging policy) code takes 1 token, each call that
 * succeeds puts back `tokenRatio`; retries and hedges are sent only while
 * more than `maxTokens / 2` tokens are left.
 */
export interface RetryThrottling {
  /** Size of the bucket: 1 to 1000. Required. */
  maxTokens: number;
  /** Tokens a successful call puts back: more than 0, at most 3 decimals kept (as A6). Required. */
  tokenRatio: number;
}

/**
 * A retry budget as Linkerd's and Envoy's (and Finagle's before them):
 * extra attempts (policy retries and hedges, not transparent retries) may
 * be at most `ratio` of the calls started over the last `ttlMs`, plus
 * `minRetriesPerSecond` whatever the call rate (so a client with few calls
 * can still retry). When every server fails, the extra load stays near
 * `ratio` instead of multiplying the traffic by `maxAttempts`.
 */
export interface RetryBudgetOptions {
  /** Extra attempts per call over the window, from 0 to 10. Default 0.2 (Linkerd's). */
  ratio?: number;
  /** Extra attempts per second always allowed, on top of the ratio. Default 10 (Linkerd's). */
  minRetriesPerSecond?: number;
  /** The sliding window, in ms (1000 to 60000). Default 10000 (Linkerd's `ttl`). */
  ttlMs?: number;
}

/** A6's throttle: see {@link RetryThrottling}. */
export class RetryThrottle {
  private tokens: number;
  private readonly max: number;
  private readonly ratio: number;

  constructor(o: RetryThrottling) {
    // A6 keeps tokens in thousandths: the same arithmetic, without float drift.
    this.max = o.maxTokens * 1000;
    this.ratio = Math.round(o.tokenRatio * 1000);
    this.tokens = this.max;
  }

  /** An attempt failed with a retryable or non-fatal code. */
  failure(): void {
    this.tokens = Math.max(0, this.tokens - 1000);
  }

  /** A call succeeded. */
  success(): void {
    this.tokens = Math.min(this.max, this.tokens + this.ratio);
  }

  /** Whether a retry or hedge may be sent now. */
  get allows(): boolean {
    return this.tokens > this.max / 2;
  }

  /** Tokens left, as A6 counts them (for tests and stats). */
  get level(): number {
    return this.tokens / 1000;
  }
}

/** Linkerd's budget: see {@link RetryBudgetOptions}. Counts per second-wide bucket over the window. */
export class RetryBudget {
  private readonly buckets: number;
  private readonly calls: Float64Array;
  private readonly extra: Float64Array;
  private readonly floor: number;
  private current = 0;
  private currentSecond: number;

  /**
   * @param o - options with defaults filled in.
   * @param clock - where the window's time comes from.
   */
  constructor(
    readonly o: Required<RetryBudgetOptions>,
    private readonly clock: Clock,
  ) {
    this.buckets = Math.max(1, Math.round(o.ttlMs / 1000));
    this.calls = new Float64Array(this.buckets);
    this.extra = new Float64Array(this.buckets);
    this.floor = o.minRetriesPerSecond * this.buckets;
    this.currentSecond = Math.floor(clock.now() / 1000);
  }

  /** A call started. */
  deposit(): void {
    const i = this.advance();
    this.calls[i] = (this.calls[i] as number) + 1;
  }

  /** Takes one extra attempt from the budget; false (nothing taken) when the budget is spent. */
  withdraw(): boolean {
    const i = this.advance();
    let calls = 0;
    let extra = 0;
    for (let b = 0; b < this.buckets; b++) {
      calls += this.calls[b] as number;
      extra += this.extra[b] as number;
    }
    if (extra + 1 > this.floor + this.o.ratio * calls) return false;
    this.extra[i] = (this.extra[i] as number) + 1;
    return true;
  }

  /** The bucket of now, clearing those the window left behind. */
  private advance(): number {
    const second = Math.floor(this.clock.now() / 1000);
    const gap = second - this.currentSecond;
    if (gap > 0) {
      for (let k = 1; k <= Math.min(gap, this.buckets); k++) {
        const b = (this.current + k) % this.buckets;
        this.calls[b] = 0;
        this.extra[b] = 0;
      }
      this.current = (this.current + gap) % this.buckets;
      this.currentSecond = second;
    }
    return this.current;
  }
}

/**
 * What may limit a pool's extra attempts (policy retries and hedges): the
 * A6 throttle and the budget, either or both off. Shared by all calls.
 */
export class ExtraAttempts {
  /** Extra attempts refused: by the throttle, by the budget. */
  readonly refused = { throttle: 0, budget: 0 };

  /**
   * @param throttle - A6 retryThrottling, or undefined for none.
   * @param budget - the retry budget, or undefined for none.
   */
  constructor(
    readonly throttle: RetryThrottle | undefined,
    readonly budget: RetryBudget | undefined,
  ) {}

  /** A call started (the budget's deposit). */
  callStarted(): void {
    this.budget?.deposit();
  }

  /** A call ended well (the throttle's refill). */
  callSucceeded(): void {
    this.throttle?.success();
  }

  /** An attempt failed with a retryable or non-fatal code (the throttle's toll). */
  attemptFailed(): void {
    this.throttle?.failure();
  }

  /** Whether one more attempt may be sent; when true, the budget has been charged for it. */
  allow(): boolean {
    if (this.throttle && !this.throttle.allows) {
      this.refused.throttle++;
      return false;
    }
    if (this.budget && !this.budget.withdraw()) {
      this.refused.budget++;
      return false;
    }
    return true;
  }
}

/**
 * How many streams the pool may reset on one endpoint: a token bucket of
 * the shape of nghttp2's rapid-reset limit (CVE-2023-44487: a burst of
 * 1000, 33 per second), which Node servers (and this repository's
 * connect-server) enforce by closing the connection. A hedged call cancels
 * its losing attempts within this budget; beyond it, a loser is left to
 * finish and its answer is ignored, which costs the server the work but
 * keeps the connection.
 */
export class ResetBudget {
  private readonly buckets = new WeakMap<object, { tokens: number; at: number }>();

  /**
   * @param clock - the refill's time.
   * @param burst - the bucket's size. Default 1000 (nghttp2's).
   * @param perSecond - the refill rate. Default 33 (nghttp2's).
   */
  constructor(
    private readonly clock: Clock,
    private readonly burst = 1000,
    private readonly perSecond = 33,
  ) {}

  /** Takes a token for a reset on `endpoint`; false when there is none (do not reset). */
  take(endpoint: object): boolean {
    const now = this.clock.now();
    let b = this.buckets.get(endpoint);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(endpoint, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.perSecond) / 1000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }
}
