// "Did you mean" for option keys, option values and target schemes.

/**
 * The candidate `name` is most likely a misspelling of: one that differs
 * only in case, else one that adds the unit ("timeMs" for "time"), else
 * the nearest by edit distance (adjacent swaps count as one edit), if it
 * is near enough: at most 1 edit for names up to 4 characters, 2 up to 8,
 * 3 beyond. Undefined when none is.
 */
export function closestName(name: string, candidates: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const sameLetters = candidates.find((c) => c.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters;
  // Durations are named with their unit: "time" is "timeMs".
  const withUnit = candidates.find((c) => c.toLowerCase() === `${lower}ms`);
  if (withUnit !== undefined) return withUnit;
  const limit = name.length <= 4 ? 1 : name.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        (d[(i - 1) * cols + j] as number) + 1,
        (d[i * cols + j - 1] as number) + 1,
        (d[(i - 1) * cols + j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, (d[(i - 2) * cols + j - 2] as number) + 1);
      }
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1] as number;
}
