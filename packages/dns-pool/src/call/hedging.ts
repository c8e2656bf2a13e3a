import { Code, ConnectError } from "@connectrpc/connect";
import type { Clock, TimerHandle } from "../core/clock.js";
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
   * all attempts at once. Pick it a little above the servers' normal p95
   * (or p99): then about 5 % (1 %) of calls make an extra attempt, and
   * those are the slow ones. Default 0 (A6's).
   */
  hedgingDelayMs?: number;
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
      if (done || committed !== -1 || started >= policy.maxAttempts) return;
      if (!beforeDeadline(policy.hedgingDelayMs)) return;
      timer = clock.setTimeout(() => {
        timer = undefined;
        hedge();
      }, policy.hedgingDelayMs);
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
