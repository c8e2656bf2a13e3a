/** Chooses which endpoints one client connects to. Pure and deterministic. */
export interface Subsetter {
  /** The algorithm: "rendezvous", "deterministic", "aperture" or "random". */
  readonly name: string;
  /**
   * The endpoints this client should connect to: `min(subsetSize, n)` distinct
   * members of `endpoints`, where n is the number of distinct endpoints.
   * Depends only on the set of endpoints (not their order, not duplicates),
   * `subsetSize` and the options the subsetter was created with. The order
   * of the result is deterministic too (the algorithm's preference or ring
   * order); callers should treat it as a set.
   *
   * @throws RangeError when `subsetSize` is not a positive integer.
   */
  select(endpoints: readonly string[], subsetSize: number): string[];
}

/**
 * Who this client is, for the subsetters. Every client of a service must be
 * configured the same way (same kind, same subset size, same kind of
 * identity), or the balance properties do not hold.
 */
export interface SubsetterOptions {
  /**
   * A stable identity of this client, unique among the clients of the
   * service: the seed of rendezvous and random subsetting, and the source of
   * a position for deterministic subsetting and aperture when no
   * `clientIndex` is given. Default: {@link defaultClientId} (host name and
   * pid, i.e. the pod name in Kubernetes).
   */
  clientId?: string;
  /**
   * This client's 0-based index among `clientCount` clients, when something
   * hands out dense indexes: a StatefulSet ordinal, or the rank of this pod
   * among its peers (see {@link rankAmongPeers}). Turns deterministic
   * subsetting and aperture from "as good as random" into exact balance.
   */
  clientIndex?: number;
  /**
   * The number of clients that share the servers, with `clientIndex`.
   * Required by aperture (and "auto") together with `clientIndex`; optional
   * for deterministic subsetting, which only checks `clientIndex < clientCount`.
   */
  clientCount?: number;
}

/** A known index: both halves present and consistent. */
export interface ClientPosition {
  /** 0-based index, below `clientCount`. */
  readonly clientIndex: number;
  /** Number of clients, at least 1. */
  readonly clientCount: number;
}

/**
 * Validates `clientIndex`/`clientCount`. Returns the position when both are
 * given, `undefined` when neither is.
 *
 * @param requireBoth - when true, one without the other is an error.
 * @throws RangeError for a non-integer, negative or out-of-range value.
 */
export function clientPosition(options: SubsetterOptions, requireBoth: boolean): ClientPosition | undefined {
  const { clientIndex, clientCount } = options;
  if (clientCount !== undefined && (!Number.isSafeInteger(clientCount) || clientCount < 1)) {
    throw new RangeError(`clientCount must be a positive integer, got ${clientCount}`);
  }
  if (clientIndex !== undefined && (!Number.isSafeInteger(clientIndex) || clientIndex < 0)) {
    throw new RangeError(`clientIndex must be a non-negative integer, got ${clientIndex}`);
  }
  if (clientIndex !== undefined && clientCount !== undefined && clientIndex >= clientCount) {
    throw new RangeError(`clientIndex ${clientIndex} is out of range for clientCount ${clientCount}`);
  }
  if (requireBoth && (clientIndex === undefined) !== (clientCount === undefined)) {
    throw new RangeError("clientIndex and clientCount must be given together");
  }
  if (clientIndex === undefined || clientCount === undefined) return undefined;
  return { clientIndex, clientCount };
}

/** @throws RangeError unless `subsetSize` is a positive integer. */
export function checkSubsetSize(subsetSize: number): void {
  if (!Number.isSafeInteger(subsetSize) || subsetSize < 1) {
    throw new RangeError(`subsetSize must be a positive integer, got ${subsetSize}`);
  }
}

/**
 * The canonical form of a resolver's answer: distinct endpoints in ascending
 * UTF-16 code-unit order. DNS returns A records in random order, so every
 * subsetter starts from this.
 */
export function canonicalEndpoints(endpoints: readonly string[]): string[] {
  return [...new Set(endpoints)].sort();
}
