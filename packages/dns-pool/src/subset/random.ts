import { defaultClientId } from "./client-id.js";
import { hash64, seededRandom } from "./hash.js";
import { canonicalEndpoints, checkSubsetSize, type Subsetter, type SubsetterOptions } from "./subsetter.js";

/**
 * Random subsetting, the baseline: k endpoints drawn uniformly without
 * replacement (a partial Fisher-Yates over the sorted endpoints) with SFC32
 * seeded from `hash64("random-subsetting/<clientId>")`, so a client gets the
 * same subset for the same endpoint set.
 *
 * Balance is Binomial(C, k/S) per server, as with rendezvous hashing. Churn
 * is the weakness: any change of the endpoint set moves the sorted positions
 * and the draw ranges, so a good part of every subset is redrawn (about 3 of
 * 10 endpoints per client at C = S = 300, up to 9); the only bound is k. The first draws do
 * not depend on later ones: the subset of k is a prefix of the subset of k+1.
 *
 * gRFC A68 (draft) calls its policy `random_subsetting` but implements it
 * with rendezvous hashing over a random per-process salt, precisely to avoid
 * this churn: that is {@link rendezvousSubsetter} with a random `clientId`.
 */
export function randomSubsetter(options: SubsetterOptions = {}): Subsetter {
  const seed = hash64(`random-subsetting/${options.clientId ?? defaultClientId()}`);
  return {
    name: "random",
    select(endpoints, subsetSize) {
      checkSubsetSize(subsetSize);
      const pool = canonicalEndpoints(endpoints);
      if (subsetSize >= pool.length) return pool;
      const random = seededRandom(seed);
      for (let i = 0; i < subsetSize; i++) {
        const j = i + Math.floor(random() * (pool.length - i));
        const tmp = pool[i]!;
        pool[i] = pool[j]!;
        pool[j] = tmp;
      }
      return pool.slice(0, subsetSize);
    },
  };
}
