import type { ConnectivityState } from "../connectivity.js";

/** What a picker needs to know of an endpoint. */
export interface Balanceable {
  readonly state: ConnectivityState;
  /** Calls running on it now. */
  readonly inFlight: number;
}

/**
 * Chooses the endpoint for one call among READY ones. Pickers are immutable
 * snapshots: the pool swaps in a new one on every change, so a pick never
 * sees a half-updated list. Every pick is O(1).
 */
export interface Picker<E extends Balanceable> {
  /** A READY endpoint, or undefined when there is none. */
  pick(): E | undefined;
}

/** No READY endpoint. */
export const EMPTY_PICKER: Picker<never> = { pick: () => undefined };

/** Strict rotation; the cursor outlives pickers so rotation continues across swaps. */
export class RoundRobinPicker<E extends Balanceable> implements Picker<E> {
  constructor(
    private readonly ready: readonly E[],
    private readonly cursor: { next: number },
  ) {}

  pick(): E | undefined {
    const i = this.cursor.next % this.ready.length;
    this.cursor.next = i + 1;
    return this.ready[i];
  }
}

/** Power of two choices: of two random endpoints, the one with fewer calls in flight. */
export class LeastRequestPicker<E extends Balanceable> implements Picker<E> {
  constructor(private readonly ready: readonly E[]) {}

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
  constructor(private readonly endpoint: E) {}

  pick(): E {
    return this.endpoint;
  }
}
