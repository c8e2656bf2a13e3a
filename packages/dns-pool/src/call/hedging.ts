import { Code, ConnectError } from "@connectrpc/connect";
import { type Clock, preciseNow, type TimerHandle } from "../core/clock.js";
import { neverProcessed } from "../core/errors.js";
import type { ExtraAttempts } from "./retry-limits.js";

/**
 * A gRFC A6 hedging policy for unary calls: the call is sent again, to
 * another endpoint when there is one, every `hedgingDelayMs` until one
 * attempt answers, up to `maxAttempts` attempts in flight or done. The
 * first answer wins and the other attempts are cancelled (their streams
 * reset). Only for idempotent methods: a hedged call may run on several
 * servers.
 */
export interface HedgingPolicy {
  /** Attempts in all, the first included: 2 to 5. Required. */
  maxAttempts: number;
  /**
   * Wait this long for an answer before the next attempt, in ms. 0 sends
   * all attempts at once (with `hedgingDelayPercentile`: no floor, and no
   * timed hedge until the percentile is known). Pick it a little above the servers' normal p95
   * (or p99): then about 5 % (1 %) of calls make an extra attempt, and
   * those are the slow ones. Default 0 (A6's).
   */
  hedgingDelayMs?: number;
  /**
   * Derive the delay from the calls themselves: wait this percentile of the
   * method's recent call latencies (successful calls, from the first
   * attempt's start to the answer, over the last 10 to 20 s), never less
   * than `hedgingDelayMs`. 95 hedges about 5 % of the calls, the slowest,
   * and follows the servers as they speed up or slow down, where a fixed
   * delay hedges far more or far less. The rate is self-correcting: a call
   * answered before the delay is not hedged, so about (100 - p) % of the
   * calls take longer than the p-th percentile and get a hedge. Until a
   * method has 100 latencies in that span the delay is `hedgingDelayMs`,
   * or, when that is 0, no hedge is sent on a timer (non-fatal codes still
   * send the next attempt at once). 50 to 99.9; default 0: off, the delay
   * is `hedgingDelayMs` alone.
   */
  hedgingDelayPercentile?: number;
  /**
   * Codes after which the next attempt is sent at once (instead of after
   * the delay) rather than ending the call, e.g. [Code.Unavailable]. Any
   * other error ends the call and cancels the others. Default: none.
   */
  nonFatalCodes?: Code[];
}

/**
 * Starts attempt number `index` of a hedged call (0 for the first). It must
 * end, with its answer or an error, soon after `signal` aborts. It calls
 * `onHeaders` when its response headers arrive (where the transport tells):
 * the call then commits to it.
 */
export type HedgeAttemptStart<R> = (index: number, signal: AbortSignal, onHeaders: () => void) => Promise<R>;

/** What a hedged call needs besides its attempts. */
export interface HedgeRun<R> {
  /** The policy, defaults filled in. */
  readonly policy: Required<HedgingPolicy>;
  /** The hedging delay's timer. */
  readonly clock: Clock;
  /** The throttle and budget every hedge must pass. */
  readonly limits: ExtraAttempts;
  /** The caller's signal: aborting it cancels every attempt. */
  readonly signal: AbortSignal | undefined;
  /** The call's deadline on `clock`, or undefined for none: no hedge is sent at or after it. */
  readonly deadline: number | undefined;
  /** Transparent retries allowed (attempts that never reached a server, replaced at once without counting). */
  readonly transparentRetries: number;
  /** Starts an attempt. */
  readonly start: HedgeAttemptStart<R>;
  /**
   * Whether losing attempt `index` may be cancelled (its stream reset), or
   * must be left to finish with its answer ignored: servers cut connections
   * that reset too many streams (rapid-reset protection). Default: always.
   * Not asked when the caller cancels the call.
   */
  readonly mayCancel?: (index: number) => boolean;
  /** An attempt besides the first was sent: `transparent` replaces one that never reached a server. */
  readonly onExtra?: (kind: "hedge" | "transparent", index: number) => void;
}

/** Why a losing attempt was cancelled, as its error says. */
const LOST = "another attempt of the hedged call answered first";

/**
 * Runs a hedged call (gRFC A6): the first attempt at once, another each
 * `hedgingDelayMs` while attempts remain and the throttle and budget allow,
 * the next at once when one fails with a non-fatal code. The first answer
 * (or the first fatal error) commits the call: the other attempts are
 * aborted. Ends with the last non-fatal error when every attempt failed.
 * No timer outlives the call.
 */
export function runHedged<R>(run: HedgeRun<R>): Promise<R> {
  const { policy, clock, limits, signal } = run;
  return new Promise<R>((resolve, reject) => {
    const controllers: AbortController[] = [];
    const settled: boolean[] = [];
    let started = 0; // attempts counted against maxAttempts
    let index = 0; // attempts started, transparent ones included
    let pending = 0;
    let transparentLeft = run.transparentRetries;
    let timer: TimerHandle | undefined;
    let done = false;
    let lastError: ConnectError | undefined;
    let committed = -1;

    const finish = (err: ConnectError | undefined, value?: R) => {
      if (done) return;
      done = true;
      clock.clearTimeout(timer);
      timer = undefined;
      signal?.removeEventListener("abort", onAbort);
      cancelLosers(-1, signal?.aborted === true);
      if (err) reject(err);
      else resolve(value as R);
    };
    const onAbort = () => finish(ConnectError.from(signal?.reason, Code.Canceled));

    /** A6: response headers from attempt `i` commit the call to it; the others are cancelled, no more are sent. */
    const commit = (i: number) => {
      if (done || committed !== -1) return;
      committed = i;
      clock.clearTimeout(timer);
      timer = undefined;
      cancelLosers(i, false);
    };

    /** Aborts every attempt but `keep` (and those `mayCancel` says to leave running, unless `all`). */
    const cancelLosers = (keep: number, all: boolean) => {
      let reason: ConnectError | undefined;
      controllers.forEach((c, k) => {
        if (k === keep || c.signal.aborted || settled[k]) return;
        if (!all && run.mayCancel && !run.mayCancel(k)) return;
        reason ??= all
          ? ConnectError.from(signal?.reason, Code.Canceled)
          : new ConnectError(LOST, Code.Canceled);
        c.abort(reason);
      });
    };

    const beforeDeadline = (inMs: number) => run.deadline === undefined || clock.now() + inMs < run.deadline;

    const arm = () => {
      clock.clearTimeout(timer);
      timer = undefined;
      // Infinity: an adaptive delay without enough latencies yet sends no hedge on a timer.
      if (
        done ||
        committed !== -1 ||
        started >= policy.maxAttempts ||
        !Number.isFinite(policy.hedgingDelayMs)
      ) {
        return;
      }
      if (!beforeDeadline(policy.hedgingDelayMs)) return;
      wait(preciseNow(clock), policy.hedgingDelayMs);
    };

    /**
     * Hedges once `delayMs` have passed since `from` on the precise clock.
     * Node starts a timer from the event loop's cached time, which lags by
     * however long the current turn has run: a 1 ms timer armed late in a
     * 3 ms turn fires at once. Delays of a few ms (an adaptive delay at a
     * fast method's p95) would hedge far more calls than they should; a
     * timer that fires early waits out the rest.
     */
    const wait = (from: number, delayMs: number) => {
      timer = clock.setTimeout(
        () => {
          timer = undefined;
          const left = delayMs - (preciseNow(clock) - from);
          if (left >= 0.1) wait(from, delayMs);
          else hedge();
        },
        Math.max(0, delayMs - (preciseNow(clock) - from)),
      );
    };

    /** One more attempt, if the policy, the throttle and the budget let it; false when not. */
    const hedge = (): boolean => {
      if (done || committed !== -1 || started >= policy.maxAttempts || !beforeDeadline(0)) return false;
      if (!limits.allow()) return false;
      run.onExtra?.("hedge", index);
      launch(true);
      return true;
    };

    const launch = (counts: boolean) => {
      const c = new AbortController();
      controllers.push(c);
      if (counts) started++;
      pending++;
      const i = index++;
      let p: Promise<R>;
      try {
        p = run.start(i, c.signal, () => commit(i));
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(
        (value) => {
          settled[i] = true;
          pending--;
          finish(undefined, value);
        },
        (err: unknown) => {
          settled[i] = true;
          pending--;
          if (committed === -1) failed(ConnectError.from(err));
          else if (committed === i) finish(ConnectError.from(err));
        },
      );
      if (counts && policy.hedgingDelayMs > 0) arm();
    };

    const failed = (error: ConnectError) => {
      if (done) return;
      if (transparentLeft > 0 && neverProcessed(error)) {
        // Never reached a server: replace it at once, as a transparent retry.
        transparentLeft--;
        run.onExtra?.("transparent", index);
        launch(false);
        return;
      }
      if (!policy.nonFatalCodes.includes(error.code)) {
        finish(error);
        return;
      }
      limits.attemptFailed();
      lastError = error;
      // A6: a non-fatal error sends the next attempt at once, and the delay starts over.
      if (hedge()) return;
      if (pending === 0) finish(lastError);
    };

    if (signal?.aborted) {
      reject(ConnectError.from(signal.reason, Code.Canceled));
      return;
    }
    signal?.addEventListener("abort", onAbort);
    launch(true);
    if (policy.hedgingDelayMs === 0) while (!done && hedge()) {}
  });
}

/** Latencies are kept in buckets 5 % wide from 10 µs up: a percentile is at most 5 % above the truth. */
const MIN_LATENCY_MS = 0.01;
const STEP = 1.05;
const LOG_STEP = Math.log(STEP);
/** 10 µs × 1.05^404 is over 3,600 s, the longest `hedgingDelayMs`. */
const BUCKETS = 405;

/** One method's latencies: the current window and the one before. */
class LatencyWindows {
  private current = new Uint32Array(BUCKETS);
  private previous = new Uint32Array(BUCKETS);
  private currentCount = 0;
  private previousCount = 0;
  private windowStart: number;
  private cached = Number.POSITIVE_INFINITY;
  private sinceComputed = Number.POSITIVE_INFINITY;

  constructor(now: number) {
    this.windowStart = now;
  }

  record(latencyMs: number, now: number, windowMs: number): void {
    this.rotate(now, windowMs);
    const i =
      latencyMs <= MIN_LATENCY_MS
        ? 0
        : Math.min(BUCKETS - 1, Math.ceil(Math.log(latencyMs / MIN_LATENCY_MS) / LOG_STEP));
    this.current[i] = (this.current[i] as number) + 1;
    this.currentCount++;
    this.sinceComputed++;
  }

  /** The `percentile` over both windows (a bucket's upper bound), or Infinity with fewer than `minSamples`. */
  percentile(percentile: number, minSamples: number, now: number, windowMs: number): number {
    this.rotate(now, windowMs);
    const total = this.currentCount + this.previousCount;
    if (total < minSamples) return Number.POSITIVE_INFINITY;
    // Recomputed every 16 samples: a walk over 400 buckets, not one per call.
    if (this.sinceComputed < 16) return this.cached;
    this.sinceComputed = 0;
    const rank = Math.ceil((percentile / 100) * total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += (this.current[i] as number) + (this.previous[i] as number);
      if (seen >= rank) {
        this.cached = MIN_LATENCY_MS * STEP ** i;
        return this.cached;
      }
    }
    this.cached = MIN_LATENCY_MS * STEP ** (BUCKETS - 1);
    return this.cached;
  }

  /** Windows on a fixed grid from the first latency: what counts is never more than two windows old. */
  private rotate(now: number, windowMs: number): void {
    const passed = Math.floor((now - this.windowStart) / windowMs);
    if (passed < 1) return;
    if (passed >= 2) {
      this.previous.fill(0);
      this.previousCount = 0;
      this.current.fill(0);
    } else {
      const emptied = this.previous;
      this.previous = this.current;
      this.previousCount = this.currentCount;
      emptied.fill(0);
      this.current = emptied;
    }
    this.currentCount = 0;
    this.windowStart += passed * windowMs;
    this.sinceComputed = Number.POSITIVE_INFINITY;
  }
}

/**
 * The adaptive hedging delay (`hedgingDelayPercentile`): each method's
 * recent latencies (successful calls, from the call's start, any wait for
 * a READY endpoint included, to its answer) in two rotating windows of
 * log-spaced buckets (bounded memory: 3.2 KiB per method, whatever the
 * call rate), and from them the delay to wait before a hedge.
 */
export class AdaptiveHedgingDelay {
  private readonly methods = new Map<string, LatencyWindows>();

  /**
   * @param policy - the percentile (50 to 99.9) and the floor (`hedgingDelayMs`).
   * @param clock - the pool's clock.
   * @param windowMs - how long a window lasts: latencies count for one to two of them. Default 10000.
   * @param minSamples - latencies a method needs before the delay is used. Default 100.
   */
  constructor(
    private readonly policy: Pick<Required<HedgingPolicy>, "hedgingDelayPercentile" | "hedgingDelayMs">,
    private readonly clock: Clock,
    private readonly windowMs = 10_000,
    private readonly minSamples = 100,
  ) {}

  /**
   * The delay for the next call of `method`: the percentile, at least
   * `hedgingDelayMs`; until the method has enough latencies,
   * `hedgingDelayMs`, or Infinity (no timed hedge) when that is 0.
   */
  delayFor(method: string): number {
    const floor = this.policy.hedgingDelayMs;
    const w = this.methods.get(method);
    const p =
      w === undefined
        ? Number.POSITIVE_INFINITY
        : w.percentile(this.policy.hedgingDelayPercentile, this.minSamples, this.clock.now(), this.windowMs);
    if (p === Number.POSITIVE_INFINITY) return floor > 0 ? floor : p;
    return Math.max(floor, p);
  }

  /** A call of `method` answered after `latencyMs` (from its first attempt's start). */
  record(method: string, latencyMs: number): void {
    const now = this.clock.now();
    let w = this.methods.get(method);
    if (w === undefined) {
      w = new LatencyWindows(now);
      this.methods.set(method, w);
    }
    w.record(latencyMs, now, this.windowMs);
  }
}
