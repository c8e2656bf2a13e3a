/**
 * A log-bucketed latency histogram: bucket i holds values in
 * [GROWTH^i, GROWTH^(i+1)) µs, so every percentile is within 1 % of the
 * truth, recording is O(1) and memory is fixed whatever the call count.
 */
export class Histogram {
  private static readonly GROWTH = 1.01;
  private static readonly LOG_GROWTH = Math.log(Histogram.GROWTH);
  /** 1.01^2400 µs is about 7 hours: enough. */
  private readonly counts = new Uint32Array(2400);
  private total = 0;
  private minValue = Number.POSITIVE_INFINITY;
  private maxValue = 0;

  /** Records one value in µs. */
  record(us: number): void {
    const i = us < 1 ? 0 : Math.min(this.counts.length - 1, Math.floor(Math.log(us) / Histogram.LOG_GROWTH));
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.total++;
    if (us < this.minValue) this.minValue = us;
    if (us > this.maxValue) this.maxValue = us;
  }

  /** Adds every value recorded in `other`. */
  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++)
      this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0);
    this.total += other.total;
    this.minValue = Math.min(this.minValue, other.minValue);
    this.maxValue = Math.max(this.maxValue, other.maxValue);
  }

  get count(): number {
    return this.total;
  }

  /** The value below which `p` percent of the values lie, µs (0 when empty). */
  percentile(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) {
        // The bucket's geometric middle, clamped to what was seen.
        const mid = i === 0 ? 1 : Histogram.GROWTH ** (i + 0.5);
        return Math.min(this.maxValue, Math.max(this.minValue, mid));
      }
    }
    return this.maxValue;
  }
}
