import type { Code } from "@connectrpc/connect";
import type { ConnectivityState } from "../connection/connectivity.js";

/** What a picker needs to know of an endpoint. */
export interface Balanceable {
  /** The endpoint's state as the balancer sees it (health and ejection included). */
  readonly state: ConnectivityState;
  /** Calls running on it now. */
  readonly inFlight: number;
}

/**
 * How one call (one attempt, with retries) on a picked endpoint ended,
 * given to {@link Picker.onDone}.
 */
export interface CallResult {
  /** From the pick to the end of the call (for streams: the end of the response stream), in ms. */
  readonly latencyMs: number;
  /** True when the call succeeded. */
  readonly ok: boolean;
  /** The error's code when it failed; undefined on success. */
  readonly code: Code | undefined;
  /**
   * Response trailers (on success) or the error's metadata (headers and
   * trailers), e.g. for a policy that reads ORCA load reports
   * (`endpoint-load-metrics-bin`). Undefined when the call produced none.
   */
  readonly trailers: Headers | undefined;
}

/**
 * Chooses the endpoint for one call among READY ones. Pickers are immutable
 * snapshots: the pool swaps in a new one on every change, so a pick never
 * sees a half-updated list. Every pick should be O(1).
 */
export interface Picker<E extends Balanceable> {
  /** A READY endpoint, or undefined when there is none. */
  pick(): E | undefined;
  /**
   * Optional: called once when a call that this picker picked `endpoint`
   * for ends, with its latency, outcome and trailers. For latency- or
   * load-aware policies (peak EWMA, weighted round robin from ORCA). A
   * method rather than a callback per pick so that pickers without it cost
   * nothing: the pool checks for it once per call and allocates the result
   * only when it is there.
   */
  onDone?(endpoint: E, result: CallResult): void;
}

/** No READY endpoint. */
export const EMPTY_PICKER: Picker<never> = { pick: () => undefined };

/** Strict rotation; the cursor outlives pickers so rotation continues across swaps. */
export class RoundRobinPicker<E extends Balanceable> implements Picker<E> {
  /**
   * @param ready - the READY endpoints, not empty.
   * @param cursor - shared by the policy's successive pickers.
   */
  constructor(
    private readonly ready: readonly E[],
    private readonly cursor: { next: number },
  ) {}

  /** The next endpoint in rotation. */
  pick(): E | undefined {
    const i = this.cursor.next % this.ready.length;
    this.cursor.next = i + 1;
    return this.ready[i];
  }
}

/** Power of two choices: of two random endpoints, the one with fewer calls in flight. */
export class LeastRequestPicker<E extends Balanceable> implements Picker<E> {
  /** @param ready - the READY endpoints, not empty. */
  constructor(private readonly ready: readonly E[]) {}

  /** The less busy of two distinct random endpoints. */
  pick(): E | undefined {
    const n = this.ready.length;
    const i = Math.floor(Math.random() * n);
    const a = this.ready[i] as E;
    if (n === 1) return a;
    // A second index distinct from the first, still uniform: O(1), no search.
    let j = Math.floor(Math.random() * (n - 1));
    if (j >= i) j++;
    const b = this.ready[j] as E;
    return b.inFlight < a.inFlight ? b : a;
  }
}

/** Always the same endpoint. */
export class FixedPicker<E extends Balanceable> implements Picker<E> {
  /** @param endpoint - the one every pick returns. */
  constructor(private readonly endpoint: E) {}

  /** The endpoint. */
  pick(): E {
    return this.endpoint;
  }
}
