import type { ConnectError } from "@connectrpc/connect";
import type { Address } from "../address.js";

/** One successful resolution. */
export interface Resolution {
  /** Every address the name resolved to, in a stable (sorted) order. */
  readonly addresses: readonly Address[];
  /** The smallest record TTL in seconds, when the source has one. */
  readonly ttlSeconds: number | undefined;
}

/** Receives a resolver's results. */
export interface ResolverListener {
  /** A new, non-empty address list. */
  onResolution(resolution: Resolution): void;
  /** A failed resolution (NXDOMAIN, SERVFAIL, timeout, empty answer...): keep the last good list. */
  onResolutionError(error: ConnectError): void;
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
  constructor(private readonly addresses: readonly Address[]) {}

  start(listener: ResolverListener): void {
    listener.onResolution({ addresses: this.addresses, ttlSeconds: undefined });
  }

  resolveNow(): void {}

  close(): void {}
}
