import { ConnectivityState } from "../connectivity.js";
import {
  type Balanceable,
  EMPTY_PICKER,
  FixedPicker,
  LeastRequestPicker,
  type Picker,
  RoundRobinPicker,
} from "./picker.js";

/** The balancing policies, named as in gRPC service config. */
export type PolicyName = "round_robin" | "pick_first" | "least_request";

/**
 * A load-balancing policy: which endpoints hold connections, and how a call
 * picks among the READY ones. Given the endpoints in address order.
 */
export interface BalancingPolicy<E extends Balanceable> {
  readonly name: PolicyName;
  /** The endpoints that should be connected now. */
  wanted(endpoints: readonly E[]): readonly E[];
  /** A picker over the endpoints' current states. */
  buildPicker(endpoints: readonly E[]): Picker<E>;
}

function ready<E extends Balanceable>(endpoints: readonly E[]): E[] {
  return endpoints.filter((e) => e.state === ConnectivityState.READY);
}

/** Connects to every endpoint; rotates strictly over READY ones from a random start. */
export class RoundRobinPolicy<E extends Balanceable> implements BalancingPolicy<E> {
  readonly name = "round_robin";
  private readonly cursor = { next: Math.floor(Math.random() * 1_000_000) };

  wanted(endpoints: readonly E[]): readonly E[] {
    return endpoints;
  }

  buildPicker(endpoints: readonly E[]): Picker<E> {
    const r = ready(endpoints);
    return r.length === 0 ? EMPTY_PICKER : new RoundRobinPicker(r, this.cursor);
  }
}

/** Connects to every endpoint; sends each call to the less busy of two random READY ones. */
export class LeastRequestPolicy<E extends Balanceable> implements BalancingPolicy<E> {
  readonly name = "least_request";

  wanted(endpoints: readonly E[]): readonly E[] {
    return endpoints;
  }

  buildPicker(endpoints: readonly E[]): Picker<E> {
    const r = ready(endpoints);
    return r.length === 0 ? EMPTY_PICKER : new LeastRequestPicker(r);
  }
}

/**
 * Connects to the first endpoint that works, in address order, and sends
 * every call there while it stays READY (gRPC's pick_first).
 */
export class PickFirstPolicy<E extends Balanceable> implements BalancingPolicy<E> {
  readonly name = "pick_first";
  private selected: E | undefined;

  wanted(endpoints: readonly E[]): readonly E[] {
    const chosen = this.choose(endpoints);
    if (chosen) return [chosen];
    // Nothing READY: try the first endpoint not known to fail; all of them if all fail.
    const next = endpoints.find((e) => e.state !== ConnectivityState.TRANSIENT_FAILURE);
    return next ? [next] : endpoints;
  }

  buildPicker(endpoints: readonly E[]): Picker<E> {
    const chosen = this.choose(endpoints);
    return chosen ? new FixedPicker(chosen) : EMPTY_PICKER;
  }

  private choose(endpoints: readonly E[]): E | undefined {
    if (!(this.selected?.state === ConnectivityState.READY && endpoints.includes(this.selected))) {
      this.selected = endpoints.find((e) => e.state === ConnectivityState.READY);
    }
    return this.selected;
  }
}

/** Creates the named policy. */
export function createPolicy<E extends Balanceable>(name: PolicyName): BalancingPolicy<E> {
  switch (name) {
    case "round_robin":
      return new RoundRobinPolicy();
    case "least_request":
      return new LeastRequestPolicy();
    case "pick_first":
      return new PickFirstPolicy();
  }
}
