import type { Code, ContextValues } from "@connectrpc/connect";
import type { ConnectivityState } from "../core/connectivity.js";
import type { SlowStartWeights } from "./slow-start.js";

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
 * What a picker may read of the call it picks for: ring_hash takes the
 * call's hash key from its headers or context values. The pool builds one
 * per call and hands the same object to every pick of that call (retries,
 * the pick queue); pickers that pick without it ignore it.
 */
export interface PickInfo {
  /** The call's request headers as given to the transport, the policy's own headers added; undefined for none. */
  readonly header: ConstructorParameters<typeof Headers>[0] | undefined;
  /** The call's context values (connect's `contextValues` call option); undefined for none. */
  readonly contextValues: ContextValues | undefined;
}

/**
 * Chooses the endpoint for one call among READY ones. Pickers are immutable
 * snapshots: the pool swaps in a new one on every change, so a pick never
 * sees a half-updated list. Every pick should be O(1).
 */
export interface Picker<E extends Balanceable> {
  /**
   * A READY endpoint, or undefined when there is none (the call then waits
   * in the pick queue for the next picker).
   * @param info - the call picked for; undefined when picking for no call in particular.
   */
  pick(info?: PickInfo): E | undefined;
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

/**
 * Strict rotation; the cursor outlives pickers so rotation continues across
 * swaps. With endpoints in slow start, an endpoint of weight w < 1 takes its
 * turn with probability w and passes it on otherwise, so its share is w
 * times a full one.
 */
export class RoundRobinPicker<E extends Balanceable> implements Picker<E> {
  /**
   * @param ready - the READY endpoints, not empty.
   * @param cursor - shared by the policy's successive pickers.
   * @param ramp - the weights of endpoints in slow start; undefined when none is.
   */
  constructor(
    private readonly ready: readonly E[],
    private readonly cursor: { next: number },
    private ramp?: SlowStartWeights<E>,
  ) {}

  /** The next endpoint in rotation. */
  pick(): E | undefined {
    const n = this.ready.length;
    let i = this.cursor.next % n;
    this.cursor.next = i + 1;
    const ramp = this.ramp;
    if (ramp === undefined) return this.ready[i];
    const now = ramp.now();
    if (now >= ramp.until) {
      this.ramp = undefined;
      return this.ready[i];
    }
    // At most one lap: endpoints out of slow start always accept.
    for (let tries = 0; tries < n; tries++) {
      const e = this.ready[i] as E;
      const w = ramp.weight(e, now);
      if (w >= 1 || Math.random() < w) return e;
      i = this.cursor.next % n;
      this.cursor.next = i + 1;
    }
    return this.ready[i];
  }
}

/**
 * Power of two choices: of two random endpoints, the one with fewer calls
 * in flight. With endpoints in slow start the load compared is
 * (in flight + 1) / weight, so a ramping endpoint looks busier than it is.
 */
export class LeastRequestPicker<E extends Balanceable> implements Picker<E> {
  /**
   * @param ready - the READY endpoints, not empty.
   * @param ramp - the weights of endpoints in slow start; undefined when none is.
   */
  constructor(
    private readonly ready: readonly E[],
    private ramp?: SlowStartWeights<E>,
  ) {}

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
    const ramp = this.ramp;
    if (ramp !== undefined) {
      const now = ramp.now();
      if (now < ramp.until) {
        const wa = Math.max(ramp.weight(a, now), MIN_WEIGHT);
        const wb = Math.max(ramp.weight(b, now), MIN_WEIGHT);
        return (b.inFlight + 1) / wb < (a.inFlight + 1) / wa ? b : a;
      }
      this.ramp = undefined;
    }
    return b.inFlight < a.inFlight ? b : a;
  }
}

/** Weights below this count as this (a weight of 0 would make costs infinite and ties). */
export const MIN_WEIGHT = 1e-6;

/** Always the same endpoint. */
export class FixedPicker<E extends Balanceable> implements Picker<E> {
  /** @param endpoint - the one every pick returns. */
  constructor(private readonly endpoint: E) {}

  /** The endpoint. */
  pick(): E {
    return this.endpoint;
  }
}
