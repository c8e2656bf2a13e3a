import { createHistogram, type RecordableHistogram } from "node:perf_hooks";

/**
 * A latency histogram in µs over Node's own HDR histogram
 * (`perf_hooks.createHistogram`, 3 significant digits): recording is O(1)
 * and memory is fixed whatever the call count. It records whole µs (at
 * least 1), so percentiles are clamped to the smallest and largest values
 * actually seen, which may be fractions.
 */
export class Histogram {
  private readonly hdr: RecordableHistogram = createHistogram();
  private minValue = Number.POSITIVE_INFINITY;
  private maxValue = 0;

  /** Records one value in µs. */
  record(us: number): void {
    this.hdr.record(Math.max(1, Math.round(us)));
    if (us < this.minValue) this.minValue = us;
    if (us > this.maxValue) this.maxValue = us;
  }

  /** Adds every value recorded in `other`. */
  add(other: Histogram): void {
    this.hdr.add(other.hdr);
    this.minValue = Math.min(this.minValue, other.minValue);
    this.maxValue = Math.max(this.maxValue, other.maxValue);
  }

  get count(): number {
    return this.hdr.count;
  }

  /** The value below which `p` percent of the values lie, µs (0 when empty). */
  percentile(p: number): number {
    if (this.hdr.count === 0) return 0;
    return Math.min(this.maxValue, Math.max(this.minValue, this.hdr.percentile(p)));
  }
}
