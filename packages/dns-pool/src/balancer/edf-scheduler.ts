/**
 * Earliest-deadline-first scheduling over weights (gRFC A58): each entry
 * is a job whose period is 1 / weight; the pick is the entry with the
 * earliest deadline, which then moves one period later. Over any stretch
 * of picks each entry's share is its weight over the sum, to within one
 * pick. Deadlines start at a random point of the first period so that
 * clients built at the same moment do not pick in lockstep.
 *
 * A binary heap: O(log n) a pick, O(n) to build (done once per weight
 * update, 1 s by default).
 */
export class EdfScheduler {
  private readonly period: Float64Array;
  private readonly deadline: Float64Array;
  private readonly heap: Int32Array;

  /**
   * @param weights - one per entry, each > 0.
   * @param random - a number in [0, 1) (injectable for tests). Default Math.random.
   */
  constructor(weights: readonly number[], random: () => number = Math.random) {
    const n = weights.length;
    this.period = new Float64Array(n);
    this.deadline = new Float64Array(n);
    this.heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const period = 1 / (weights[i] as number);
      this.period[i] = period;
      this.deadline[i] = random() * period;
      this.heap[i] = i;
    }
    for (let i = (n >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  /** The index of the next entry. */
  pick(): number {
    const top = this.heap[0] as number;
    this.deadline[top] = (this.deadline[top] as number) + (this.period[top] as number);
    this.siftDown(0);
    return top;
  }

  /** Earlier deadline first; on a tie, the lower index (deterministic). */
  private before(a: number, b: number): boolean {
    const da = this.deadline[a] as number;
    const db = this.deadline[b] as number;
    return da < db || (da === db && a < b);
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    const n = heap.length;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      let child = l;
      if (r < n && this.before(heap[r] as number, heap[l] as number)) child = r;
      if (!this.before(heap[child] as number, heap[i] as number)) return;
      const t = heap[i] as number;
      heap[i] = heap[child] as number;
      heap[child] = t;
      i = child;
    }
  }
}
