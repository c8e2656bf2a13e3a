/**
 * What the lab takes from `@rngbalance/dns-pool`: the subsetting algorithms,
 * the hashes they rank and shuffle with, and the measures dns-pool's
 * subsetting tests assert on (so the simulator and the tests count the same
 * way). These are internals, not the package's public API, so they come from
 * dns-pool's sources (run by tsx, never built): a move inside dns-pool
 * breaks this one file, and nothing else in the lab names a dns-pool path.
 *
 * @module
 */
export {
  combine64,
  fnv1a64,
  hash64,
  seededRandom,
  top53,
} from "../../../packages/dns-pool/src/subset/hash.js";
export {
  canonicalEndpoints,
  createSubsetter,
  type SubsetterKind,
  type SubsetterOptions,
} from "../../../packages/dns-pool/src/subset/index.js";
export {
  connectionsPerServer,
  loadPerServer,
  type Spread,
  spread,
  subsetChurn,
  syntheticPodAddresses,
} from "../../../packages/dns-pool/test/subset-measures.js";
