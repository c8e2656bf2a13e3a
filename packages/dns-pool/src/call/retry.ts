import type { Code, ConnectError } from "@connectrpc/connect";
import { neverProcessed } from "../core/errors.js";

/** A gRFC A6 retry policy for calls that reached a server. */
export interface RetryPolicy {
  /** Attempts in all, the first included: 2 to 5. Required. */
  maxAttempts: number;
  /** Codes worth another attempt, e.g. [Code.Unavailable]. Required. */
  retryableCodes: Code[];
  /** Delay before the first retry (jittered). Default 100. */
  initialBackoffMs?: number;
  /** Largest delay. Default 1000. */
  maxBackoffMs?: number;
  /** Growth of the delay per retry. Default 2. */
  backoffMultiplier?: number;
}

/** The retry budget of one call, updated by {@link Retry.next}. */
export interface RetryState {
  /** Attempts made that count against `maxAttempts` (transparent retries do not). */
  attempt: number;
  /** Transparent retries left. */
  transparentLeft: number;
}

/** What to do after a failed attempt. */
export type RetryDecision =
  | {
      /** Retry at once: the attempt never reached a server. */
      readonly kind: "transparent";
    }
  | {
      /** Retry per the retry policy, after `delayMs`. */
      readonly kind: "policy";
      /** The jittered backoff delay. */
      readonly delayMs: number;
    }
  | undefined;

const TRANSPARENT = { kind: "transparent" } as const;

/**
 * gRPC's retry rules for unary calls:
 * - transparent: an attempt that never reached a server (never sent, or its
 *   stream refused) is retried at once, up to `transparentRetries` times;
 * - policy (gRFC A6, opt-in): an attempt that failed with one of the
 *   policy's codes is retried after a jittered exponential backoff, while
 *   attempts remain and the delay fits in the deadline.
 */
export class Retry {
  /**
   * @param transparentRetries - the `transparentRetries` option.
   * @param policy - the `retryPolicy` option with defaults filled in, or undefined.
   * @param random - uniform numbers in [0, 1) for the jitter; `Math.random` by default.
   */
  constructor(
    readonly transparentRetries: number,
    private readonly policy: Required<RetryPolicy> | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  /** Whether the retry policy lists `code` (what the A6 throttle counts as a failure). */
  retryable(code: Code): boolean {
    return this.policy?.retryableCodes.includes(code) === true;
  }

  /** A fresh budget for a new call. */
  start(): RetryState {
    return { attempt: 1, transparentLeft: this.transparentRetries };
  }

  /**
   * The decision after `error` ended an attempt, `elapsedMs` into a call
   * with deadline `timeoutMs` (undefined: none). Updates `state` when it
   * decides to retry.
   */
  next(
    state: RetryState,
    error: ConnectError,
    elapsedMs: number,
    timeoutMs: number | undefined,
  ): RetryDecision {
    // Never seen by a server: always safe to send elsewhere (gRPC transparent retry).
    if (state.transparentLeft > 0 && neverProcessed(error)) {
      state.transparentLeft--;
      return TRANSPARENT;
    }
    // Seen by a server: only when the user opted in for this code (gRFC A6).
    const p = this.policy;
    if (!p || state.attempt >= p.maxAttempts || !p.retryableCodes.includes(error.code)) return undefined;
    const ceiling = Math.min(p.initialBackoffMs * p.backoffMultiplier ** (state.attempt - 1), p.maxBackoffMs);
    const delayMs = this.random() * ceiling;
    if (timeoutMs !== undefined && elapsedMs + delayMs >= timeoutMs) return undefined;
    state.attempt++;
    return { kind: "policy", delayMs };
  }
}
