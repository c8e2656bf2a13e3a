import { defaultClientId } from "./client-id.js";
import { hash64, memoHash64, top53, toUnitInterval } from "./hash.js";
import {
  canonicalEndpoints,
  checkSubsetSize,
  clientPosition,
  type Subsetter,
  type SubsetterOptions,
} from "./subsetter.js";

/**
 * A ring of endpoints in hash order: the same for every client, and
 * unrelated to address order, so a window of neighbours on the ring is not a
 * run of consecutive pod IPs (which tend to share a node's pod CIDR).
 */
function ring(endpoints: readonly string[]): string[] {
  return canonicalEndpoints(endpoints)
    .map((endpoint) => ({ endpoint, key: top53(memoHash64(endpoint)) }))
    .sort((a, b) => a.key - b.key || (a.endpoint < b.endpoint ? -1 : 1))
    .map((e) => e.endpoint);
}

/** floor(a / b) for non-negative safe integers, exact even where a / b rounds up. */
function floorDiv(a: number, b: number): number {
  const q = Math.floor(a / b);
  return q * b > a ? q - 1 : q;
}

/**
 * Deterministic aperture, after Finagle's (Twitter) d-aperture, with whole
 * endpoints: clients and servers share one coordinate space [0, 1). Client
 * i of C sits at `x = i / C`; the S servers, in ring order (sorted by
 * `hash64(endpoint)`), own equal arcs of width 1/S; the client takes the k
 * consecutive servers starting with the one whose arc holds x, i.e. ring
 * positions `floor(i*S/C) .. floor(i*S/C) + k - 1` (mod S).
 *
 * - Balance with `clientIndex`/`clientCount`: the window starts are evenly
 *   spread, so every server has exactly `floor(kC/S)` or `ceil(kC/S)`
 *   clients: the best possible with k connections each.
 * - Churn: when one server is added or removed, the client's x does not
 *   move, the window's start index moves by at most one, and the ring
 *   positions past the change shift by one. Mapped back onto the old ring,
 *   the new window is the old one slid by at most one place, plus the new
 *   server or minus the removed one: at most 2 endpoints change per client,
 *   and 2 only for the few windows that wrap past the ring's origin (at most
 *   1 otherwise). But about half of the clients change one, not k/S of them
 *   as with rendezvous hashing.
 * - Without `clientIndex`, x is `hash64(clientId)` mapped to [0, 1): the
 *   churn bound holds, but each server then gets a Binomial(C, k/S) number of
 *   clients, like rendezvous hashing, with more churn: prefer rendezvous then.
 *
 * Finagle's version differs: its window is `ceil(kC/S)/C` wide (so a client
 * may touch k+1 or more servers) and the servers cut by the window's edges
 * get fractional weights, so *load* is exact even where connection counts
 * are not; it also rotates the coordinates by a per-cluster offset. The
 * {@link Subsetter} interface returns a plain list, so this version keeps
 * whole servers and exactly k of them. The result is in ring order from the
 * window's start, so the subset of k is a prefix of the subset of k+1.
 */
export function apertureSubsetter(options: SubsetterOptions = {}): Subsetter {
  const position = clientPosition(options, true);
  const hashed = position ? 0 : toUnitInterval(hash64(options.clientId ?? defaultClientId()));
  return {
    name: "aperture",
    select(endpoints, subsetSize) {
      checkSubsetSize(subsetSize);
      const servers = ring(endpoints);
      const n = servers.length;
      if (subsetSize >= n) return servers;
      const start = position
        ? floorDiv(position.clientIndex * n, position.clientCount)
        : Math.min(n - 1, Math.floor(hashed * n));
      const subset: string[] = [];
      for (let j = 0; j < subsetSize; j++) subset.push(servers[(start + j) % n]!);
      return subset;
    },
  };
}
