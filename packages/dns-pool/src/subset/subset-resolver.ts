import { Code, ConnectError } from "@connectrpc/connect";
import { type Address, formatAddress } from "../resolver/address.js";
import type { Resolution, Resolver, ResolverListener } from "../resolver/resolver.js";
import { createSubsetter, type SubsetterKind } from "./index.js";
import { checkSubsetSize, type Subsetter, type SubsetterOptions } from "./subsetter.js";

/** Subsetting: each client uses a few endpoints only (see docs/subsetting.md). */
export interface SubsetOptions extends SubsetterOptions {
  /** Endpoints per client. Required, a positive integer. */
  size: number;
  /**
   * The algorithm: "auto" (default) picks "aperture" when `clientIndex` and
   * `clientCount` are given (exact balance), else "rendezvous" (no
   * coordination needed, minimal churn).
   */
  kind?: SubsetterKind | "auto";
}

/**
 * A resolver decorator that passes on only this client's subset of the
 * addresses another resolver finds (as httplb's subsetting resolver): the
 * pool behind it never learns of the others, so it never connects to them.
 * Errors pass through unchanged; `resolvedCount` keeps the full count.
 */
export class SubsettingResolver implements Resolver {
  /**
   * @param inner - the resolver whose results are narrowed.
   * @param subsetter - chooses the subset; pure and deterministic.
   * @param size - endpoints per client.
   */
  constructor(
    private readonly inner: Resolver,
    private readonly subsetter: Subsetter,
    private readonly size: number,
  ) {}

  /** Starts the inner resolver, narrowing each of its results. */
  start(listener: ResolverListener): void {
    this.inner.start({
      onResolution: (resolution) => listener.onResolution(this.narrow(resolution)),
      onResolutionError: (error) => listener.onResolutionError(error),
      onWarning: (warning) => listener.onWarning?.(warning),
    });
  }

  /** Passed on to the inner resolver. */
  resolveNow(): void {
    this.inner.resolveNow();
  }

  /** Closes the inner resolver. */
  close(): void {
    this.inner.close();
  }

  /** The subset of one resolution, in the subsetter's order. */
  narrow(resolution: Resolution): Resolution {
    const byKey = new Map(resolution.addresses.map((a) => [formatAddress(a), a]));
    const chosen = this.subsetter.select([...byKey.keys()], this.size);
    return {
      addresses: chosen.map((k) => byKey.get(k) as Address),
      ttlSeconds: resolution.ttlSeconds,
      resolvedCount: resolution.resolvedCount ?? resolution.addresses.length,
      // Addresses keep their attributes (zone, hints); the client's zone passes through.
      ...(resolution.clientZone === undefined ? {} : { clientZone: resolution.clientZone }),
    };
  }
}

/**
 * Wraps `inner` in a {@link SubsettingResolver} per the `subset` option.
 * @throws ConnectError (InvalidArgument) for a bad size or client position.
 */
export function subsetResolver(inner: Resolver, options: SubsetOptions): SubsettingResolver {
  try {
    const subsetter = createSubsetter(options.kind ?? "auto", options);
    checkSubsetSize(options.size);
    return new SubsettingResolver(inner, subsetter, options.size);
  } catch (err) {
    throw new ConnectError(`options.subset: ${(err as Error).message}`, Code.InvalidArgument);
  }
}
