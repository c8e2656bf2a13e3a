/**
 * A deterministic pseudo-random generator of numbers in [0, 1)
 * (mulberry32): the same seed gives the same sequence, so a test that
 * samples is replayable.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Draws ranks 0..n-1 with P(k) ∝ 1 / (k + 1)^s (a Zipf law, as request keys
 * often are: a few hot, a long tail), in O(log n) per draw.
 * @param random - uniform numbers in [0, 1); `Math.random` by default.
 */
export function zipfSampler(n: number, s: number, random: () => number = Math.random): () => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / (k + 1) ** s;
    cumulative[k] = sum;
  }
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}
