import { defaultClientId } from "./client-id.js";
import { hash64, seededRandom } from "./hash.js";
import {
  canonicalEndpoints,
  checkSubsetSize,
  clientPosition,
  type Subsetter,
  type SubsetterOptions,
} from "./subsetter.js";

/**
 * Deterministic subsetting from the Google SRE book, chapter 20 ("Load
 * Balancing in the Datacenter"):
 *
 * ```
 * subset_count = floor(S / k)        // disjoint subsets per round
 * round        = floor(client_id / subset_count)
 * shuffle(backends, seed = round)    // the same permutation for the whole round
 * subset_id    = client_id % subset_count
 * return backends[subset_id * k : subset_id * k + k]
 * ```
 *
 * Adapted: the endpoints are de-duplicated and sorted before the shuffle
 * (DNS answers come in random order), and the shuffle is a Fisher-Yates
 * with SFC32 seeded from `hash64("deterministic-subsetting/round/<round>")`,
 * so every client computes the same permutation for a round.
 *
 * `client_id` is `clientIndex` when given. Only then is the balance exact:
 * each round of `subset_count` consecutive indexes covers every server once
 * (but the `S mod k` left over), so with C a multiple of `subset_count` each
 * server has C*k/S clients, give or take the leftovers. Without it, the
 * index is the top 32 bits of `hash64(clientId)`: rounds are then almost
 * all distinct, and the result is no better balanced than random subsetting.
 *
 * Churn: any change of the endpoint set reshuffles every round, and a change
 * of `floor(S / k)` regroups all clients, so a single server added or removed
 * replaces most of every client's k endpoints (6 of 10 on average for
 * 300 -> 301 servers, 9.5 for 300 -> 299, where `floor(S / k)` changes).
 * The only bound is k. A client joining with the next index, or the last
 * one leaving, moves nobody else; indexes shifting (a client in the middle
 * leaving) move about half of each later client's subset.
 */
export function deterministicSubsetter(options: SubsetterOptions = {}): Subsetter {
  clientPosition(options, false); // validates; the count itself is not needed
  const index = options.clientIndex ?? hash64(options.clientId ?? defaultClientId()).hi;
  return {
    name: "deterministic",
    select(endpoints, subsetSize) {
      checkSubsetSize(subsetSize);
      const backends = canonicalEndpoints(endpoints);
      if (subsetSize >= backends.length) return backends;
      const subsetCount = Math.floor(backends.length / subsetSize);
      const round = Math.floor(index / subsetCount);
      const random = seededRandom(hash64(`deterministic-subsetting/round/${round}`));
      for (let i = backends.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        const tmp = backends[i]!;
        backends[i] = backends[j]!;
        backends[j] = tmp;
      }
      const start = (index % subsetCount) * subsetSize;
      return backends.slice(start, start + subsetSize);
    },
  };
}
