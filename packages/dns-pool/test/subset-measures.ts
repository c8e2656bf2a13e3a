/**
 * Measures of a subsetting outcome: what the subsetting tests assert on
 * (balance, churn) and what apps/subset-lab's simulator prints. Test support,
 * not part of the library: nothing here is built or published.
 *
 * @module
 */
import { hash64, seededRandom } from "../src/subset/hash.js";

/** Summary statistics of a list of numbers. */
export interface Spread {
  /** Smallest value. */
  readonly min: number;
  /** Arithmetic mean. */
  readonly mean: number;
  /** Largest value. */
  readonly max: number;
  /** `max / mean`: 1 is perfect balance (0 when the mean is 0). */
  readonly maxOverMean: number;
}

/** min, mean, max and max/mean of `values` (all 0 for an empty list). */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: 0, mean: 0, max: 0, maxOverMean: 0 };
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const mean = sum / values.length;
  return { min, mean, max, maxOverMean: mean === 0 ? 0 : max / mean };
}

/**
 * Connections per server: how many of the `subsets` (one per client)
 * contain each of `servers`, in the order of `servers`.
 */
export function connectionsPerServer(
  servers: readonly string[],
  subsets: readonly (readonly string[])[],
): number[] {
  const count = new Map<string, number>(servers.map((s) => [s, 0]));
  for (const subset of subsets) {
    for (const s of subset) count.set(s, (count.get(s) ?? 0) + 1);
  }
  return servers.map((s) => count.get(s) ?? 0);
}

/**
 * Expected load per server when every client sends the same load, spread
 * evenly over its subset (each client contributes 1/|subset| to each member),
 * normalized so that the mean over servers is 1.
 */
export function loadPerServer(servers: readonly string[], subsets: readonly (readonly string[])[]): number[] {
  const load = new Map<string, number>(servers.map((s) => [s, 0]));
  for (const subset of subsets) {
    for (const s of subset) load.set(s, (load.get(s) ?? 0) + 1 / subset.length);
  }
  const values = servers.map((s) => load.get(s) ?? 0);
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
  return mean === 0 ? values : values.map((v) => v / mean);
}

/**
 * Endpoints changed in one client's subset: connections it must open (or,
 * if more, close) when its subset goes from `before` to `after`. A removed
 * server that was in the subset and its replacement count as one change.
 */
export function subsetChurn(before: readonly string[], after: readonly string[]): number {
  const old = new Set(before);
  const now = new Set(after);
  let added = 0;
  let removed = 0;
  for (const e of now) if (!old.has(e)) added++;
  for (const e of old) if (!now.has(e)) removed++;
  return Math.max(added, removed);
}

/**
 * `count` distinct pod-like addresses in 10.0.0.0/8 with port 8081,
 * reproducible from `seed`: fleets for simulations and tests.
 */
export function syntheticPodAddresses(count: number, seed: string): string[] {
  const random = seededRandom(hash64(seed));
  const seen = new Set<string>();
  while (seen.size < count) {
    const n = Math.floor(random() * 0x100_0000);
    seen.add(`10.${n >>> 16}.${(n >>> 8) & 0xff}.${n & 0xff}:8081`);
  }
  return [...seen];
}
