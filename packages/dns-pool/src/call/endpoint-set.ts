import { Code, ConnectError } from "@connectrpc/connect";
import { EMPTY_PICKER, type Picker } from "../balancer/picker.js";
import type { LoadBalancingPolicy } from "../balancer/policy.js";
import type { ConnectionChange, EndpointListener, PoolEndpoint } from "../connection/pool-endpoint.js";
import { ConnectivityState } from "../core/connectivity.js";
import { describeError } from "../core/errors.js";
import type {
  PanicEvent,
  PoolStateEvent,
  ResolutionErrorEvent,
  ResolutionEvent,
  ResolverWarningEvent,
} from "../core/events.js";
import { type Address, formatAddress } from "../resolver/address.js";
import type { Resolution, ResolverListener } from "../resolver/resolver.js";
import { aggregateState } from "./aggregate-state.js";
import { countPanic } from "./panic.js";

/**
 * The endpoints a picker may pick: the READY ones that liveness does not
 * doubt (a suspect endpoint gets no new picks under any policy), or, when
 * every READY endpoint is suspect, all READY ones, so calls never wait on
 * suspicion alone.
 */
function pickable<E extends PoolEndpoint>(all: readonly E[]): E[] {
  return trustedOf(all.filter((e) => e.state === ConnectivityState.READY));
}

/** The endpoints of `ready` that liveness does not doubt, or all of them when it doubts every one. */
function trustedOf<E extends PoolEndpoint>(ready: E[]): E[] {
  if (!ready.some((e) => e.suspect === true)) return ready;
  const trusted = ready.filter((e) => e.suspect !== true);
  return trusted.length > 0 ? trusted : ready;
}

/** What the endpoint set reports. */
export interface EndpointSetListener {
  /** A resolution was applied. */
  onResolution(event: ResolutionEvent): void;
  /** A resolution failed; the set keeps its endpoints. */
  onResolutionError(event: ResolutionErrorEvent): void;
  /** The aggregate state changed. */
  onStateChange(event: PoolStateEvent): void;
  /**
   * An endpoint's connection changed state (also one draining), before the
   * picker is rebuilt for it. Default: nothing.
   */
  onConnectionChange?(address: string, change: ConnectionChange): void;
  /** An endpoint's server sent GOAWAY. Default: nothing. */
  onGoaway?(address: string): void;
  /** The set entered or left panic (see `panicThresholdPercent`). Default: nothing. */
  onPanicChange?(event: PanicEvent): void;
  /** The resolver warns of something optional not working (see `ResolverListener.onWarning`). Default: nothing. */
  onResolverWarning?(event: ResolverWarningEvent): void;
}

/**
 * The pool's endpoints: turns resolutions into endpoints (new addresses
 * get one, vanished ones drain), asks the policy which to connect and
 * rebuilds the picker on every change, and keeps the aggregate state. It is
 * the {@link ResolverListener} of the pool's resolver.
 */
export class EndpointSet<E extends PoolEndpoint> implements ResolverListener, EndpointListener<E> {
  /** The current picker; swapped whole by `rebuild()`. Read on every call. */
  picker: Picker<E> = EMPTY_PICKER;
  private byKey = new Map<string, E>();
  private ordered: E[] = [];
  private readonly draining = new Set<E>();
  private stateValue = ConnectivityState.IDLE;
  private active: boolean;
  private resolvedOnce = false;
  private closedValue = false;
  private lastResolutionErrorValue: ConnectError | undefined;
  private removedCallsValue = 0;
  private readonly removedByAddress = new Map<string, number>();
  private rebuilding = false;
  private rebuildAgain = false;
  private readonly pickerListeners: (() => void)[] = [];
  /** Endpoints asked to connect, for policies that release the ones they stop wanting. */
  private asked = new Set<E>();
  private panicValue = false;
  private panicsEnteredValue = 0;

  /**
   * @param target - for messages.
   * @param policy - decides connections and builds pickers.
   * @param createEndpoint - makes the endpoint of a new address, reporting its changes to `listener` (this set).
   * @param listener - receives events.
   * @param eager - connect before the first call (`connect: "eager"`).
   * @param panicThresholdPercent - below this share of healthy endpoints, pick over every connected one (see panic.ts). Default 0: off;
   *   the pool passes its `panicThresholdPercent` option, whose default is 50 (`DEFAULT_PANIC_THRESHOLD_PERCENT`, panic.ts).
   */
  constructor(
    private readonly target: string,
    private readonly policy: LoadBalancingPolicy<E>,
    private readonly createEndpoint: (address: Address, listener: EndpointListener<E>) => E,
    private readonly listener: EndpointSetListener,
    eager: boolean,
    private readonly panicThresholdPercent = 0,
  ) {
    this.active = eager;
    policy.attach?.(() => this.rebuild());
  }

  /** True while too few endpoints are healthy and calls go to every connected one (`panicThresholdPercent`). */
  get panic(): boolean {
    return this.panicValue;
  }

  /** How many times the pool entered panic. */
  get panicsEntered(): number {
    return this.panicsEnteredValue;
  }

  /** The aggregate connectivity state. */
  get state(): ConnectivityState {
    return this.stateValue;
  }

  /** The endpoints in use, in resolution order. */
  get endpoints(): readonly E[] {
    return this.ordered;
  }

  /** Endpoints removed by resolution whose in-flight calls are still finishing. */
  get drainingCount(): number {
    return this.draining.size;
  }

  /** Calls started on endpoints that have since been removed by a resolution. */
  get removedCalls(): number {
    return this.removedCallsValue;
  }

  /** The same, by address (an address removed and added again sums its endpoints). */
  get removedCallsByAddress(): ReadonlyMap<string, number> {
    return this.removedByAddress;
  }

  /** The last resolution error, cleared by the next success. */
  get lastResolutionError(): ConnectError | undefined {
    return this.lastResolutionErrorValue;
  }

  /** True after `close()`. */
  get closed(): boolean {
    return this.closedValue;
  }

  /** The endpoint in use for an address key ("127.0.0.2:8081"), if any. */
  get(key: string): E | undefined {
    return this.byKey.get(key);
  }

  /** Applies a resolution: keeps known addresses' endpoints, adds new ones, drains the rest. */
  onResolution(resolution: Resolution): void {
    if (this.closedValue) return;
    const next = new Map<string, E>();
    const added: string[] = [];
    for (const address of resolution.addresses) {
      const key = formatAddress(address);
      let endpoint = this.byKey.get(key);
      if (!endpoint) {
        endpoint = this.createEndpoint(address, this);
        added.push(key);
      }
      // Attributes are not identity: a pod that starts terminating keeps its endpoint.
      endpoint.attributes = address.attributes;
      next.set(key, endpoint);
    }
    const removed: string[] = [];
    for (const [key, endpoint] of this.byKey) {
      if (next.has(key)) continue;
      removed.push(key);
      this.removedCallsValue += endpoint.calls;
      this.removedByAddress.set(key, (this.removedByAddress.get(key) ?? 0) + endpoint.calls);
      // Drain: out of the picker now, in-flight calls finish, then the connection closes.
      this.draining.add(endpoint);
      void endpoint.shutdown().then(() => this.draining.delete(endpoint));
    }
    this.byKey = next;
    this.ordered = [...next.values()];
    if (resolution.clientZone !== undefined) this.policy.onClientZone?.(resolution.clientZone);
    this.resolvedOnce = true;
    this.lastResolutionErrorValue = undefined;
    this.listener.onResolution({
      addresses: this.ordered.map((e) => e.address),
      added,
      removed,
      resolved: resolution.resolvedCount ?? resolution.addresses.length,
      ttlSeconds: resolution.ttlSeconds,
    });
    this.rebuild();
  }

  /**
   * Calls `listener` after every rebuild, when a new picker is in place
   * (waiting calls may go now).
   */
  addPickerListener(listener: () => void): void {
    this.pickerListeners.push(listener);
  }

  /** An endpoint's state may have changed: tells the listener of a connection change, then rebuilds. */
  onChange(endpoint: E, connection: ConnectionChange | undefined): void {
    if (connection) this.listener.onConnectionChange?.(endpoint.address, connection);
    this.rebuild();
  }

  /** An endpoint's server sent GOAWAY. */
  onGoaway(endpoint: E): void {
    this.listener.onGoaway?.(endpoint.address);
  }

  /** Passes the resolver's warning on; nothing else changes. */
  onWarning(warning: ConnectError): void {
    this.listener.onResolverWarning?.({ warning });
  }

  /** Records a failed resolution; the endpoints stay. */
  onResolutionError(error: ConnectError): void {
    this.lastResolutionErrorValue = error;
    this.listener.onResolutionError({ error, keptAddresses: this.ordered.length });
    this.rebuild();
  }

  /**
   * Starts connecting (lazy pools do on their first call). Returns true if
   * the set was inactive, after a rebuild.
   */
  activate(): boolean {
    if (this.active) return false;
    this.active = true;
    this.rebuild();
    return true;
  }

  /**
   * Something changed: connects what the policy wants, swaps in a new
   * picker, updates the aggregate state and tells the listeners. The one
   * entry for every change (resolutions, endpoints' changes, activation);
   * re-entrant calls (a connection attempt changes a state synchronously)
   * are folded into one more pass.
   */
  rebuild(): void {
    if (this.closedValue) return;
    if (this.rebuilding) {
      this.rebuildAgain = true;
      return;
    }
    this.rebuilding = true;
    try {
      do {
        this.rebuildAgain = false;
        const all = this.ordered;
        if (this.active) this.connectWanted(all);
        const panic = countPanic(all, this.panicThresholdPercent);
        this.setPanic(panic.panic, panic.healthy, panic.total);
        const usable = panic.usable as E[];
        this.picker = this.policy.buildPicker(panic.panic ? trustedOf(usable) : pickable(all), all);
        let state = aggregateState(
          all.map((e) => e.state),
          {
            resolutionFailed: this.lastResolutionErrorValue !== undefined,
            active: this.active,
            resolvedOnce: this.resolvedOnce,
          },
        );
        // In panic a connected endpoint takes calls, so the pool is READY.
        if (panic.panic && usable.length > 0) state = ConnectivityState.READY;
        if (
          this.policy.stickyTransientFailure &&
          this.stateValue === ConnectivityState.TRANSIENT_FAILURE &&
          state === ConnectivityState.CONNECTING &&
          all.length > 0
        ) {
          state = ConnectivityState.TRANSIENT_FAILURE;
        }
        this.setState(state);
      } while (this.rebuildAgain);
    } finally {
      this.rebuilding = false;
    }
    for (const listener of this.pickerListeners) listener();
  }

  /** Connects what the policy wants; releases what it stopped wanting if it asks for that. */
  private connectWanted(all: readonly E[]): void {
    const wanted = this.policy.wanted?.(all) ?? all;
    for (const e of wanted) e.connect();
    if (!this.policy.releaseUnwanted) return;
    const keep = new Set(wanted);
    for (const e of this.asked) if (!keep.has(e)) e.release?.();
    this.asked = keep;
  }

  private setPanic(panic: boolean, healthy: number, total: number): void {
    if (panic === this.panicValue) return;
    this.panicValue = panic;
    if (panic) this.panicsEnteredValue++;
    this.listener.onPanicChange?.({ panic, healthy, total });
  }

  /**
   * Runs `changes` with the rebuilds they ask for folded into one, after
   * them: an outlier sweep that ejects several endpoints swaps the picker
   * once, not once per endpoint.
   */
  batch(changes: () => void): void {
    if (this.rebuilding) {
      changes();
      return;
    }
    this.rebuilding = true;
    this.rebuildAgain = false;
    try {
      changes();
    } finally {
      this.rebuilding = false;
    }
    if (this.rebuildAgain) this.rebuild();
  }

  /** UNAVAILABLE, naming the target and why nothing is READY. */
  unavailableError(): ConnectError {
    const n = this.ordered.length;
    const resolutionError = this.lastResolutionErrorValue;
    let why: string;
    if (n === 0) {
      why = resolutionError ? `no addresses: ${resolutionError.rawMessage}` : "no addresses resolved yet";
    } else {
      const states = new Map<string, number>();
      for (const e of this.ordered) states.set(e.state, (states.get(e.state) ?? 0) + 1);
      const summary = [...states].map(([s, c]) => `${c} ${s}`).join(", ");
      const failed = this.ordered.find((e) => e.lastError);
      why = `${n} endpoint${n === 1 ? "" : "s"} (${summary})`;
      if (failed?.lastError) why += `; last error from ${failed.address}: ${describeError(failed.lastError)}`;
      if (resolutionError) why += `; DNS also fails: ${resolutionError.rawMessage}`;
    }
    return new ConnectError(`no ready endpoint for target "${this.target}": ${why}`, Code.Unavailable);
  }

  /**
   * Closes: state SHUTDOWN, an empty picker, every endpoint (draining ones
   * too) shut down. Resolves when all have closed. Call once.
   */
  close(): Promise<void> {
    // Marked first, so endpoints shutting down below cannot trigger a rebuild.
    this.closedValue = true;
    this.setState(ConnectivityState.SHUTDOWN);
    const all = [...this.ordered, ...this.draining];
    this.picker = EMPTY_PICKER;
    return Promise.all(all.map((e) => e.shutdown())).then(() => undefined);
  }

  private setState(state: ConnectivityState): void {
    const previous = this.stateValue;
    if (previous === state) return;
    this.stateValue = state;
    this.listener.onStateChange({ previous, state });
  }
}
