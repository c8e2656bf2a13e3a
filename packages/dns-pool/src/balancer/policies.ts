import type { Clock } from "../clock.js";
import { ConnectivityState } from "../connection/connectivity.js";
import { EMPTY_PICKER, FixedPicker, LeastRequestPicker, type Picker, RoundRobinPicker } from "./picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "./policy.js";
import { type ResolvedSlowStart, SlowStart } from "./slow-start.js";

/**
 * Connects to every endpoint; rotates strictly over READY ones from a
 * random start. With slow start, a joining endpoint's turns are thinned
 * out by its ramp weight.
 */
export class RoundRobinPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "round_robin" */
  readonly name = "round_robin";
  // A random start per client, so that clients started together do not all hit the first address.
  private readonly cursor = { next: Math.floor(Math.random() * 1_000_000) };
  private readonly slowStart: SlowStart<E> | undefined;

  /**
   * @param slowStart - the ramp of joining endpoints. Default: none.
   * @param clock - the pool's clock; needed with slow start.
   */
  constructor(slowStart?: ResolvedSlowStart, clock?: Clock) {
    this.slowStart = slowStart && clock && new SlowStart<E>(slowStart, clock);
  }

  /** A rotation over the READY endpoints. */
  buildPicker(ready: readonly E[], all: readonly E[] = ready): Picker<E> {
    const ramp = this.slowStart?.update(ready, all);
    return ready.length === 0 ? EMPTY_PICKER : new RoundRobinPicker(ready, this.cursor, ramp);
  }
}

/**
 * Connects to every endpoint; sends each call to the less busy of two
 * random READY ones. With slow start, a joining endpoint counts as busier
 * by the inverse of its ramp weight.
 */
export class LeastRequestPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "least_request" */
  readonly name = "least_request";
  private readonly slowStart: SlowStart<E> | undefined;

  /**
   * @param slowStart - the ramp of joining endpoints. Default: none.
   * @param clock - the pool's clock; needed with slow start.
   */
  constructor(slowStart?: ResolvedSlowStart, clock?: Clock) {
    this.slowStart = slowStart && clock && new SlowStart<E>(slowStart, clock);
  }

  /** Power of two choices over the READY endpoints. */
  buildPicker(ready: readonly E[], all: readonly E[] = ready): Picker<E> {
    const ramp = this.slowStart?.update(ready, all);
    return ready.length === 0 ? EMPTY_PICKER : new LeastRequestPicker(ready, ramp);
  }
}

/**
 * Connects to the first endpoint that works, in address order, and sends
 * every call there while it stays READY (gRPC's pick_first).
 */
export class PickFirstPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "pick_first" */
  readonly name = "pick_first";
  private selected: E | undefined;

  /** The selected endpoint; else the first not known to fail; all of them if all fail. */
  wanted(endpoints: readonly E[]): readonly E[] {
    const chosen = this.choose(endpoints);
    if (chosen) return [chosen];
    const next = endpoints.find((e) => e.state !== ConnectivityState.TRANSIENT_FAILURE);
    return next ? [next] : endpoints;
  }

  /** Always the selected endpoint, while it is READY. */
  buildPicker(_ready: readonly E[], all: readonly E[]): Picker<E> {
    const chosen = this.choose(all);
    return chosen ? new FixedPicker(chosen) : EMPTY_PICKER;
  }

  /** Keeps the selection while it is READY and resolved; else the first READY endpoint. */
  private choose(endpoints: readonly E[]): E | undefined {
    if (!(this.selected?.state === ConnectivityState.READY && endpoints.includes(this.selected))) {
      this.selected = endpoints.find((e) => e.state === ConnectivityState.READY);
    }
    return this.selected;
  }
}
