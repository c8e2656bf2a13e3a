import { EventEmitter } from "node:events";
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
  /** Why it failed (NXDOMAIN, SERVFAIL, timeout, empty answer...). */
  readonly error: ConnectError;
  /** How many addresses the pool kept using. */
  readonly keptAddresses: number;
}

/** The resolver found something optional not working (resolution itself works); e.g. the client's zone is unreadable. */
export interface ResolverWarningEvent {
  /** What does not work and how to fix it. */
  readonly warning: ConnectError;
}

/** One endpoint's connectivity changed. */
export interface EndpointStateEvent {
  /** The endpoint's address, e.g. "127.0.0.2:8081". */
  readonly address: string;
  /** The state before. */
  readonly previous: ConnectivityState;
  /** The state now. */
  readonly state: ConnectivityState;
  /** Why, for TRANSIENT_FAILURE and lost connections. */
  readonly error: Error | undefined;
}

/** The pool's overall state changed (READY if any endpoint is READY, ...). */
export interface PoolStateEvent {
  /** The state before. */
  readonly previous: ConnectivityState;
  /** The state now. */
  readonly state: ConnectivityState;
}

/** A call was sent to an endpoint. Emitted only while someone listens. */
export interface PickEvent {
  /** The endpoint picked. */
  readonly address: string;
  /** "/rng.Rng/Rng" */
  readonly procedure: string;
}

/** A call is retried on another (or the same) endpoint. */
export interface RetryEvent {
  /** Where the failed attempt went. */
  readonly address: string;
  /** "/rng.Rng/Rng" */
  readonly procedure: string;
  /** "transparent": the attempt never reached a server; "policy": per the retryPolicy option. */
  readonly kind: "transparent" | "policy";
  /** Why the attempt failed. */
  readonly error: ConnectError;
}

/** Outlier detection took an endpoint out of the picker, or let it back in. */
export interface EjectionEvent {
  /** The endpoint's address. */
  readonly address: string;
  /** True: taken out of the picker; false: back in. */
  readonly ejected: boolean;
  /** For an ejection: for how long. */
  readonly untilMs: number | undefined;
}

/**
 * The pool entered or left panic (the `panicThresholdPercent` option):
 * while in panic, calls go to every connected endpoint, healthy or not.
 */
export interface PanicEvent {
  /** True: entered panic; false: left it. */
  readonly panic: boolean;
  /** Healthy endpoints (READY, serving, not ejected) at the change. */
  readonly healthy: number;
  /** Every endpoint of the pool at the change. */
  readonly total: number;
}

/** The pool's events and their payloads. */
export interface PoolEvents {
  /** A resolution was applied. */
  resolution: ResolutionEvent;
  /** A resolution failed. */
  resolutionError: ResolutionErrorEvent;
  /** An endpoint's connectivity changed. */
  endpointState: EndpointStateEvent;
  /** The pool's overall state changed. */
  state: PoolStateEvent;
  /** A call was sent to an endpoint (only while someone listens). */
  pick: PickEvent;
  /** A call is retried. */
  retry: RetryEvent;
  /** Outlier detection ejected an endpoint or let it back in. */
  ejection: EjectionEvent;
  /** The pool entered or left panic (too few healthy endpoints). */
  panic: PanicEvent;
  /** The resolver found something optional not working (e.g. the client's zone unreadable). */
  resolverWarning: ResolverWarningEvent;
}

/** The pool's typed event emitter, shared by its parts. */
export class PoolEventBus {
  private readonly emitter = new EventEmitter();

  /** Adds a listener. */
  on<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): void {
    this.emitter.on(event, listener);
  }

  /** Removes a listener. */
  off<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): void {
    this.emitter.off(event, listener);
  }

  /** Emits an event. */
  emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K]): void {
    this.emitter.emit(event, payload);
  }

  /** True while someone listens: events that cost something per call are built only then. */
  listening(event: keyof PoolEvents): boolean {
    return this.emitter.listenerCount(event) > 0;
  }
}
