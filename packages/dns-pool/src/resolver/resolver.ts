import type { ConnectError } from "@connectrpc/connect";
import type { Address } from "./address.js";

/** One successful resolution. */
export interface Resolution {
  /** Every address the name resolved to, in a stable (sorted) order. */
  readonly addresses: readonly Address[];
  /** The smallest record TTL in seconds, when the source has one. */
  readonly ttlSeconds: number | undefined;
  /**
   * How many addresses the target resolved to before a decorator (such as
   * subsetting) narrowed the list. Default: `addresses.length`.
   */
  readonly resolvedCount?: number;
  /**
   * The zone the client itself runs in, when the resolver knows it (the
   * `kubernetes:` resolver reads its Node's `topology.kubernetes.io/zone`).
   * Default: unknown.
   */
  readonly clientZone?: string;
}

/** Receives a resolver's results. */
export interface ResolverListener {
  /** A new, non-empty address list. */
  onResolution(resolution: Resolution): void;
  /** A failed resolution (NXDOMAIN, SERVFAIL, timeout, empty answer...): keep the last good list. */
  onResolutionError(error: ConnectError): void;
  /**
   * Optional: something optional does not work, though resolution does
   * (e.g. the client's zone cannot be read, so zone-aware routing stays
   * off). The address list is unaffected. Default: nothing.
   */
  onWarning?(warning: ConnectError): void;
}

/**
 * Turns a target into addresses, over and over (the gRPC resolver role).
 * Implementations own their timers; they must not keep the process alive.
 */
export interface Resolver {
  /** Starts resolving; results go to the listener. Called once. */
  start(listener: ResolverListener): void;
  /** Asks for a re-resolution soon (rate-limited): a connection failed or a server went away. */
  resolveNow(): void;
  /** Stops for good: no more results, timers cleared. */
  close(): void;
}

/** A resolver for addresses known up front (ipv4:, ipv6:, unix:, passthrough, IP literals). */
export class StaticResolver implements Resolver {
  /** @param addresses - delivered once, on `start()`. */
  constructor(private readonly addresses: readonly Address[]) {}

  /** Delivers the addresses at once. */
  start(listener: ResolverListener): void {
    listener.onResolution({ addresses: this.addresses, ttlSeconds: undefined });
  }

  /** Nothing can change: nothing to do. */
  resolveNow(): void {}

  /** Nothing to stop. */
  close(): void {}
}

/**
 * A target split as gRPC's naming spec describes it:
 * `scheme://authority/endpoint` or `scheme:endpoint`. For
 * `dns://10.96.0.10/rng:8081`: scheme "dns", authority "10.96.0.10",
 * endpoint "rng:8081".
 */
export interface TargetUri {
  /** The scheme, lower-cased, e.g. "dns". */
  readonly scheme: string;
  /** The part between `//` and the next `/`; "" when there is none. */
  readonly authority: string;
  /** The rest: what to resolve, e.g. "rng-headless:8081". */
  readonly endpoint: string;
  /** The target as the user wrote it. */
  readonly target: string;
}

/** The pool's settings a resolver may honour; every field has its default filled in. */
export interface ResolverOptions {
  /** Never re-resolve more often than this. Default 1000. */
  readonly minResolveIntervalMs: number;
  /** Re-resolve at least this often. Default 30000. */
  readonly maxResolveIntervalMs: number;
  /** Timeout of one DNS query. Default 5000. */
  readonly dnsTimeoutMs: number;
  /** Resolve `dns:` names through SRV records. Default false. */
  readonly srv: boolean;
  /** The port for a target that names none; undefined when none was set. */
  readonly defaultPort: number | undefined;
  /** The `kubeConfig` option, for `kubernetes:` targets. Default undefined. */
  readonly kubeConfig: object | undefined;
  /**
   * The client's node, whose zone a resolver that can should find and
   * report as `Resolution.clientZone` (zone-aware routing on, its zone not
   * given). Optional; default undefined (no lookup).
   */
  readonly clientNode?: string;
}

/**
 * Makes resolvers for one target scheme; register it with
 * `registerResolver(scheme, factory)` (as grpc-js's `registerResolver` and
 * httplb's `resolver.Factory`).
 *
 * @example
 * registerResolver("static-list", {
 *   defaultAuthority: () => "rng.internal:8081",
 *   create: (target) => new StaticResolver(target.endpoint.split(",").map(parseHostPort)),
 * });
 * createPoolTransport({ target: "static-list:10.0.0.1:80,10.0.0.2:80" });
 */
export interface ResolverFactory {
  /**
   * Checks the target when the pool is created. Throw a ConnectError with
   * Code.InvalidArgument for a malformed one. Optional.
   */
  validate?(target: TargetUri, defaultPort: number | undefined): void;
  /** Creates the resolver for one pool; called once, when the pool is created. */
  create(target: TargetUri, options: ResolverOptions): Resolver;
  /**
   * The `:authority` (and TLS server name) for calls when the user sets
   * none. Default: the target's `endpoint`, which must then be host[:port].
   */
  defaultAuthority?(target: TargetUri): string;
}
