import type { EndpointInfo } from "../balancer/policy.js";
import type { ConnectivityState } from "../core/connectivity.js";
import type { AddressAttributes } from "../resolver/address.js";

/** What the endpoint set needs of an endpoint (the pool's `Endpoint`, or a fake in tests). */
export interface PoolEndpoint extends EndpointInfo {
  /**
   * True while liveness doubts its server: no new picks, unless every READY
   * endpoint is suspect. Default (absent): false.
   */
  readonly suspect?: boolean;
  /** Why its last connection attempt failed, if it did. */
  readonly lastError: Error | undefined;
  /** Its address's attributes from the latest resolution; the endpoint set keeps them current. */
  attributes?: AddressAttributes | undefined;
  /** Asks for a connection (the policy wants it connected). */
  connect(): void;
  /**
   * The policy no longer wants it connected (see
   * `LoadBalancingPolicy.releaseUnwanted`): cancel the attempt, or close the
   * connection once its calls end, and do not reconnect. Optional.
   */
  release?(): void;
  /** Leaves: no new calls, in-flight ones finish, then the connection closes. */
  shutdown(): Promise<void>;
}

/** A change in an endpoint's connection, as {@link EndpointListener.onChange} reports it. */
export interface ConnectionChange {
  /** The connection's state before. */
  readonly previous: ConnectivityState;
  /** The connection's state now. */
  readonly state: ConnectivityState;
  /** Why, for TRANSIENT_FAILURE and for a lost connection. */
  readonly error: Error | undefined;
}

/** What an endpoint reports to the part that owns it (the endpoint set). */
export interface EndpointListener<E> {
  /**
   * Its balancer `state` or `suspect` may have changed: its connection
   * changed (`connection` says how), or its health, ejection or suspicion
   * did (`connection` undefined).
   */
  onChange(endpoint: E, connection: ConnectionChange | undefined): void;
  /** Its server sent GOAWAY: it is draining or moving, so DNS may have news. */
  onGoaway(endpoint: E): void;
}
