import type { ConnectError } from "@connectrpc/connect";
import type { ConnectivityState } from "./connectivity.js";

/** A resolution brought a (possibly unchanged) address list. */
export interface ResolutionEvent {
  /** Every address in use, e.g. ["127.0.0.2:8081", "127.0.0.3:8081"] (with `subset`, this client's subset). */
  readonly addresses: readonly string[];
  /** How many addresses the target resolved to (more than `addresses` with `subset`). */
  readonly resolved: number;
  /** Addresses new in this resolution. */
  readonly added: readonly string[];
  /** Addresses gone in this resolution; their connections drain. */
  readonly removed: readonly string[];
  /** The smallest record TTL, when DNS gave one. */
  readonly ttlSeconds: number | undefined;
}

/** A resolution failed; the pool kept its last good address list. */
export interface ResolutionErrorEvent {
  readonly error: ConnectError;
  /** How many addresses the pool kept using. */
  readonly keptAddresses: number;
}

/** One endpoint's connectivity changed. */
export interface EndpointStateEvent {
  readonly address: string;
  readonly previous: ConnectivityState;
  readonly state: ConnectivityState;
  /** Why, for TRANSIENT_FAILURE and lost connections. */
  readonly error: Error | undefined;
}

/** The pool's overall state changed (READY if any endpoint is READY, ...). */
export interface PoolStateEvent {
  readonly previous: ConnectivityState;
  readonly state: ConnectivityState;
}

/** A call was sent to an endpoint. Emitted only while someone listens. */
export interface PickEvent {
  readonly address: string;
  /** "/rng.Rng/Rng" */
  readonly procedure: string;
}

/** A call is retried on another (or the same) endpoint. */
export interface RetryEvent {
  /** Where the failed attempt went. */
  readonly address: string;
  readonly procedure: string;
  /** "transparent": the attempt never reached a server; "policy": per the retryPolicy option. */
  readonly kind: "transparent" | "policy";
  /** Why the attempt failed. */
  readonly error: ConnectError;
}

/** Outlier detection took an endpoint out of the picker, or let it back in. */
export interface EjectionEvent {
  readonly address: string;
  readonly ejected: boolean;
  /** For an ejection: for how long. */
  readonly untilMs: number | undefined;
}

/** The pool's events and their payloads. */
export interface PoolEvents {
  resolution: ResolutionEvent;
  resolutionError: ResolutionErrorEvent;
  endpointState: EndpointStateEvent;
  state: PoolStateEvent;
  pick: PickEvent;
  retry: RetryEvent;
  ejection: EjectionEvent;
}
