import type { Clock } from "../core/clock.js";
import { ConnectivityState } from "../core/connectivity.js";
import { NO_POLICY_TELEMETRY, type PolicyTelemetry } from "../telemetry/policy-instruments.js";
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
 *
 * With telemetry it records gRFC A78's `grpc.lb.pick_first.*` from its own
 * view of the connections (`connectivity`, not health or ejection), as it
 * sees them at each picker build, which the pool makes after every state
 * change: an endpoint whose connection becomes READY is a successful
 * attempt, one that enters TRANSIENT_FAILURE a failed one, and the
 * selected endpoint's connection leaving READY (other than by leaving the
 * pool) a disconnection. It asks for one endpoint at a time, so a success
 * is one selection, except once every endpoint has failed, when it asks
 * them all and each that connects counts.
 */
export class PickFirstPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "pick_first" */
  readonly name = "pick_first";
  private selected: E | undefined;
  /** Each endpoint's connectivity at the last build, for A78's transitions. */
  private seen = new WeakMap<E, ConnectivityState>();
  /** The endpoint that was selected with a READY connection at the last build. */
  private connected: E | undefined;

  /** @param telemetry - gRFC A78's instruments. Default: none. */
  constructor(private readonly telemetry: PolicyTelemetry = NO_POLICY_TELEMETRY) {}

  /** The selected endpoint; else the first not known to fail; all of them if all fail. */
  wanted(endpoints: readonly E[]): readonly E[] {
    const chosen = this.choose(endpoints);
    if (chosen) return [chosen];
    const next = endpoints.find((e) => e.state !== ConnectivityState.TRANSIENT_FAILURE);
    return next ? [next] : endpoints;
  }

  /** Always the selected endpoint, while it is READY. */
  buildPicker(_ready: readonly E[], all: readonly E[]): Picker<E> {
    this.count(all);
    const chosen = this.choose(all);
    this.connected = chosen && connectivityOf(chosen) === ConnectivityState.READY ? chosen : undefined;
    return chosen ? new FixedPicker(chosen) : EMPTY_PICKER;
  }

  /** Keeps the selection while it is READY and resolved; else the first READY endpoint. */
  private choose(endpoints: readonly E[]): E | undefined {
    if (!(this.selected?.state === ConnectivityState.READY && endpoints.includes(this.selected))) {
      this.selected = endpoints.find((e) => e.state === ConnectivityState.READY);
    }
    return this.selected;
  }

  /** Records the connection changes since the last build (gRFC A78). */
  private count(all: readonly E[]): void {
    const seen = new WeakMap<E, ConnectivityState>();
    for (const e of all) {
      const now = connectivityOf(e);
      const before = this.seen.get(e);
      seen.set(e, now);
      if (now === before) continue;
      if (now === ConnectivityState.READY) this.telemetry.pickFirstConnectionSucceeded();
      else if (now === ConnectivityState.TRANSIENT_FAILURE) this.telemetry.pickFirstConnectionFailed();
      // An endpoint that left the pool is shut down, not disconnected: it is no longer in `all`.
      if (e === this.connected && before === ConnectivityState.READY && now !== ConnectivityState.SHUTDOWN) {
        this.telemetry.pickFirstDisconnected();
      }
    }
    this.seen = seen;
  }
}

/** The endpoint's connection state, or its balancer state when it has none of its own. */
function connectivityOf(e: EndpointInfo): ConnectivityState {
  return e.connectivity ?? e.state;
}
