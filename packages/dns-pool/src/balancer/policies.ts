import { type Clock, systemClock, type TimerHandle } from "../core/clock.js";
import { ConnectivityState } from "../core/connectivity.js";
import { NO_POLICY_TELEMETRY, type PolicyTelemetry } from "../telemetry/policy-instruments.js";
import { connectivityOf, sameEndpoints } from "./endpoint-helpers.js";
import {
  interleaveFamilies,
  PICK_FIRST_DEFAULTS,
  type ResolvedPickFirst,
  shuffled,
} from "./pick-first-order.js";
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
    const ramp = this.slowStart?.update(all);
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
    const ramp = this.slowStart?.update(all);
    return ready.length === 0 ? EMPTY_PICKER : new LeastRequestPicker(ready, ramp);
  }
}

/**
 * Connects to the first endpoint that works, in address order, and sends
 * every call there while it stays READY (gRPC's pick_first).
 *
 * The order is the resolver's, optionally shuffled on each resolution
 * (gRFC A62 `shuffleAddressList`), then interleaved by address family
 * (gRFC A61, RFC 8305: IPv6 and IPv4 alternate from the first address's
 * family). Each pass over it is Happy Eyeballs-like (A61): an attempt that
 * has not finished after `connectionAttemptDelayMs` gets the next address's
 * attempt started beside it, a failed one starts the next at once, and
 * the first endpoint to become READY wins; the pool then releases the
 * others (`releaseUnwanted`), cancelling their attempts. Once every
 * address has failed it keeps them all trying (each on its own backoff),
 * and the pool's state stays TRANSIENT_FAILURE until one connects (A62's
 * sticky TRANSIENT_FAILURE).
 *
 * With telemetry it records gRFC A78's `grpc.lb.pick_first.*` from its own
 * view of the connections (`connectivity`, not health or ejection), as it
 * sees them at each picker build, which the pool makes after every state
 * change: an endpoint whose connection becomes READY is a successful
 * attempt, one that enters TRANSIENT_FAILURE a failed one, and the
 * selected endpoint's connection leaving READY (other than by leaving the
 * pool) a disconnection.
 */
export class PickFirstPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "pick_first" */
  readonly name = "pick_first";
  /** Endpoints it stops wanting (losers of a Happy Eyeballs race) are disconnected. */
  readonly releaseUnwanted = true;
  /** Once every address failed, the pool stays TRANSIENT_FAILURE until one connects (A62). */
  readonly stickyTransientFailure = true;
  private selected: E | undefined;
  /** Each endpoint's connectivity at the last build, for A78's transitions. */
  private seen = new WeakMap<E, ConnectivityState>();
  /** The endpoint that was selected with a READY connection at the last build. */
  private connected: E | undefined;
  /** The endpoint list last given, compared by contents (wrappers such as the locality layer pass new arrays on every rebuild). */
  private source: readonly E[] | undefined;
  /** `source` shuffled (A62) and interleaved by family (A61). */
  private order: E[] = [];
  /** The endpoints asked to connect in the current pass, in order. */
  private started = new Set<E>();
  private staggerTimer: TimerHandle | undefined;
  private update: (() => void) | undefined;
  private readonly options: ResolvedPickFirst;
  private readonly clock: Clock;
  private readonly random: () => number;

  /**
   * @param telemetry - gRFC A78's instruments. Default: none.
   * @param options - shuffle and Happy Eyeballs settings. Default {@link PICK_FIRST_DEFAULTS}.
   * @param clock - times the Happy Eyeballs stagger. Default {@link systemClock}.
   * @param random - uniform in [0, 1), for the shuffle. Default `Math.random`.
   */
  constructor(
    private readonly telemetry: PolicyTelemetry = NO_POLICY_TELEMETRY,
    options?: ResolvedPickFirst,
    clock?: Clock,
    random?: () => number,
  ) {
    this.options = options ?? PICK_FIRST_DEFAULTS;
    this.clock = clock ?? systemClock;
    this.random = random ?? Math.random;
  }

  /** Keeps the function that makes the pool call `wanted` again (when the stagger timer fires). */
  attach(update: () => void): void {
    this.update = update;
  }

  /**
   * The selected endpoint; else the endpoints of the current pass: one more
   * whenever all started ones have failed or the stagger delay passed; all
   * of them once each has failed.
   */
  wanted(endpoints: readonly E[]): readonly E[] {
    const order = this.reorder(endpoints);
    const chosen = this.choose(order);
    if (chosen) {
      this.endPass();
      return [chosen];
    }
    for (const e of this.started) if (!order.includes(e)) this.started.delete(e);
    while (this.started.size < order.length && ![...this.started].some(trying)) this.startNext(order);
    return order.filter((e) => this.started.has(e));
  }

  /** Always the selected endpoint, while it is READY. */
  buildPicker(_ready: readonly E[], all: readonly E[]): Picker<E> {
    this.count(all);
    const chosen = this.choose(this.reorder(all));
    this.connected = chosen && connectivityOf(chosen) === ConnectivityState.READY ? chosen : undefined;
    return chosen ? new FixedPicker(chosen) : EMPTY_PICKER;
  }

  /** The connection order for `endpoints`, computed once per resolution. */
  private reorder(endpoints: readonly E[]): E[] {
    if (!sameEndpoints(this.source, endpoints)) {
      // A copy: a caller that reuses its array must not make the order look current.
      this.source = [...endpoints];
      const base = this.options.shuffleAddressList ? shuffled(endpoints, this.random) : endpoints;
      this.order = interleaveFamilies(base);
    }
    return this.order;
  }

  /** Starts the next address of the pass; arms the stagger for the one after. */
  private startNext(order: readonly E[]): void {
    const next = order.find((e) => !this.started.has(e));
    if (next === undefined) return;
    this.started.add(next);
    this.clock.clearTimeout(this.staggerTimer);
    this.staggerTimer = undefined;
    const delay = this.options.connectionAttemptDelayMs;
    if (delay <= 0 || this.started.size >= order.length) return;
    this.staggerTimer = this.clock.setTimeout(() => {
      this.staggerTimer = undefined;
      if (this.selected?.state === ConnectivityState.READY || this.order !== order) return;
      this.startNext(order);
      this.update?.();
    }, delay);
    this.staggerTimer.unref();
  }

  /** A winner: the next loss starts a new pass from the first address. */
  private endPass(): void {
    this.clock.clearTimeout(this.staggerTimer);
    this.staggerTimer = undefined;
    this.started.clear();
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

/** An attempt still under way (not failed): IDLE before the pool's connect, CONNECTING, or READY awaiting health. */
function trying(e: EndpointInfo): boolean {
  return e.state !== ConnectivityState.TRANSIENT_FAILURE && e.state !== ConnectivityState.SHUTDOWN;
}
