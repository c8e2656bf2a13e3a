import type { ConnectivityState } from "../core/connectivity.js";
import type { HealthStatus } from "../health/health-check.js";
import type { AddressAttributes } from "../resolver/address.js";
import type { Balanceable, Picker } from "./picker.js";

/**
 * What a policy sees of one endpoint. The objects are the pool's own and
 * live as long as the address stays resolved, so a policy may key per-
 * endpoint state (EWMA, weights) on them, e.g. in a WeakMap.
 */
export interface EndpointInfo extends Balanceable {
  /** The address, e.g. "10.0.0.1:8081", "[fd00::1]:8081" or "unix:/run/rng.sock". */
  readonly address: string;
  /** Calls started on it since it joined the pool. */
  readonly calls: number;
  /** Of those, calls that ended with an error. */
  readonly failures: number;
  /** What health checking says of it. */
  readonly health: HealthStatus;
  /**
   * The connection's own state, before health checking and outlier
   * ejection lower `state` (pick_first's metrics count connections, not
   * health). Optional for endpoints built by hand; `state` stands in.
   */
  readonly connectivity?: ConnectivityState | undefined;
  /**
   * Where it runs (zone, node, topology hints, terminating), as its
   * resolver last said; undefined when the resolver knows nothing (DNS).
   * The `locality` layer routes by it.
   */
  readonly attributes?: AddressAttributes | undefined;
}

/**
 * A load-balancing policy: which endpoints hold connections, and a picker
 * over the READY ones. One instance per pool; register a factory for it
 * with `registerPolicy` and select it with the `policy` option.
 */
export interface LoadBalancingPolicy<E extends EndpointInfo = EndpointInfo> {
  /** The name it is registered under. */
  readonly name: string;
  /**
   * The endpoints that should be connected now (given in address order).
   * Optional; default: every endpoint, as round_robin does.
   */
  wanted?(endpoints: readonly E[]): readonly E[];
  /**
   * A picker for the current states, called after every change (resolution,
   * connectivity, health, ejection). `ready` holds the READY endpoints,
   * `all` every endpoint, both in address order. A policy that has nothing
   * to offer returns `EMPTY_PICKER`.
   */
  buildPicker(ready: readonly E[], all: readonly E[]): Picker<E>;
  /**
   * Optional: request headers added to every call the pool makes (unless
   * the call sets them), fixed for the pool's life. weighted_round_robin
   * sends `endpoint-load-metrics-format` so that servers reporting load
   * "on request" include their ORCA report. Default: none (no cost).
   */
  readonly requestHeaders?: Readonly<Record<string, string>> | undefined;
  /**
   * Optional: when true, an endpoint that `wanted` stops returning is
   * disconnected (its attempt cancelled, its connection closed after its
   * calls), as pick_first drops the losers of a Happy Eyeballs race.
   * Default false: an endpoint once asked stays connected.
   */
  readonly releaseUnwanted?: boolean | undefined;
  /**
   * Optional: called once by the pool with a function that makes it call
   * `wanted` and `buildPicker` again, for a policy whose wishes change with
   * time (pick_first's Happy Eyeballs stagger). Default: not called.
   */
  attach?(update: () => void): void;
  /**
   * Optional: when true, a pool in TRANSIENT_FAILURE stays there while its
   * endpoints retry (CONNECTING again), until one is READY (gRFC A62's
   * sticky TRANSIENT_FAILURE), so fail-fast calls keep failing fast
   * instead of waiting on each retry. Default false.
   */
  readonly stickyTransientFailure?: boolean | undefined;
  /**
   * Optional: the zone the client runs in, when a resolver learned it
   * (the `kubernetes:` resolver reads its Node's zone label). Called
   * before the picker is rebuilt. Default: ignored.
   */
  onClientZone?(zone: string): void;
}
