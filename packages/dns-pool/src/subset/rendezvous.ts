import { defaultClientId } from "./client-id.js";
import { combine64, hash64, memoHash64, top53 } from "./hash.js";
import { canonicalEndpoints, checkSubsetSize, type Subsetter, type SubsetterOptions } from "./subsetter.js";

/**
 * Rendezvous (highest-random-weight) hashing, Thaler & Ravishankar 1996, as
 * in buf's httplb subsetter: each endpoint gets the weight
 * `hash(clientId, endpoint)` and the client keeps the `subsetSize` heaviest.
 *
 * - Churn: adding or removing one endpoint changes at most one member of a
 *   subset, and only for the clients that rank it (or ranked it) in their
 *   top k, a fraction k/S of them. That is the minimum possible.
 * - Balance: each server is chosen by each client independently with
 *   probability k/S, so it gets Binomial(C, k/S) clients. Nothing better is
 *   possible without knowing the other clients (see docs/subsetting.md).
 *
 * The weight is `fmix64(hash64(clientId) XOR hash64(endpoint))` (httplb
 * hashes the concatenation with raw FNV-1a 64; the finalizer makes the
 * ranking uniform). Ties, which need a 53-bit collision, fall back to
 * endpoint order. The result is in rank order, most preferred first, so the
 * subset of k is a prefix of the subset of k+1 (a pool can widen it).
 *
 * `clientIndex`/`clientCount` are ignored: this algorithm has no use for them.
 */
export function rendezvousSubsetter(options: SubsetterOptions = {}): Subsetter {
  const clientHash = hash64(options.clientId ?? defaultClientId());
  return {
    name: "rendezvous",
    select(endpoints, subsetSize) {
      checkSubsetSize(subsetSize);
      const ranked = canonicalEndpoints(endpoints).map((endpoint) => ({
        endpoint,
        weight: top53(combine64(clientHash, memoHash64(endpoint))),
      }));
      ranked.sort((a, b) => b.weight - a.weight || (a.endpoint < b.endpoint ? -1 : 1));
      return ranked.slice(0, subsetSize).map((r) => r.endpoint);
    },
  };
}
