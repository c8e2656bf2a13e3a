/** Minimum, median and maximum of some repeats. */
export interface Spread {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

/** Min, median and max of `values` (NaN for each when empty). */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: sorted[0] as number, median, max: sorted[sorted.length - 1] as number };
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return spread(values).median;
}
