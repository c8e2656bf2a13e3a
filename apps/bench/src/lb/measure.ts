import { ConnectError, createClient } from "@connectrpc/connect";
import type { PoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { Histogram } from "../harness/histogram.js";

/** What one closed-loop run measured (after its warm-up). */
export interface LbRun {
  /** Calls answered or failed after the warm-up. */
  readonly calls: number;
  /** Failed calls after the warm-up, and the first error's text. */
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Calls answered per pod number (RN), after the warm-up. */
  readonly byPod: ReadonlyMap<bigint, number>;
  /** Latency of every call after the warm-up, µs. */
  readonly latency: Histogram;
  /** Calls answered per second of the run (from its start, warm-up included), per pod. */
  readonly perSecond: ReadonlyMap<bigint, number>[];
}

/** Options of {@link closedLoop}. */
export interface ClosedLoopOptions {
  /** Calls in flight. */
  readonly concurrency: number;
  /** Not counted: lets policies learn (EWMA, weights) and connections warm up. */
  readonly warmupMs: number;
  /** Counted. */
  readonly durationMs: number;
  /** Deadline per call. Default 5000. */
  readonly timeoutMs?: number;
  /** Called once, `atMs` after the start (e.g. to add a pod). */
  readonly at?: { readonly atMs: number; run(): void };
}

/**
 * `concurrency` workers calling /rng.Rng/Rng back to back through `pool`
 * for warm-up + duration, each answer attributed to its pod by the number
 * it returns.
 */
export async function closedLoop(pool: PoolTransport, o: ClosedLoopOptions): Promise<LbRun> {
  const client = createClient(Rng, pool);
  const start = performance.now();
  const countFrom = start + o.warmupMs;
  const end = countFrom + o.durationMs;
  const latency = new Histogram();
  const byPod = new Map<bigint, number>();
  const perSecond: Map<bigint, number>[] = [];
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const timer = o.at ? setTimeout(() => o.at?.run(), o.at.atMs) : undefined;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      let rn: bigint | undefined;
      let failed: string | undefined;
      try {
        rn = (await client.rng({}, { timeoutMs: o.timeoutMs ?? 5000 })).RN;
      } catch (err) {
        failed = ConnectError.from(err).message;
      }
      const done = performance.now();
      if (rn !== undefined) {
        const second = Math.floor((done - start) / 1000);
        while (perSecond.length <= second) perSecond.push(new Map());
        const bucket = perSecond[second] as Map<bigint, number>;
        bucket.set(rn, (bucket.get(rn) ?? 0) + 1);
      }
      if (t < countFrom) continue;
      calls++;
      latency.record((done - t) * 1000);
      if (rn !== undefined) byPod.set(rn, (byPod.get(rn) ?? 0) + 1);
      else {
        errors++;
        firstError ??= failed;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  clearTimeout(timer);
  return { calls, errors, firstError, byPod, latency, perSecond };
}

/** The share of `rn` among the answers of a run (0 when none). */
export function shareOf(run: LbRun, rn: bigint): number {
  const answered = run.calls - run.errors;
  return answered === 0 ? 0 : (run.byPod.get(rn) ?? 0) / answered;
}

/** Runs of the same setup, one after the other, as one (per-second buckets concatenated). */
export function mergeRuns(runs: readonly LbRun[]): LbRun {
  const latency = new Histogram();
  const byPod = new Map<bigint, number>();
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  for (const r of runs) {
    latency.add(r.latency);
    for (const [rn, n] of r.byPod) byPod.set(rn, (byPod.get(rn) ?? 0) + n);
    calls += r.calls;
    errors += r.errors;
    firstError ??= r.firstError;
  }
  return { calls, errors, firstError, byPod, latency, perSecond: runs.flatMap((r) => r.perSecond) };
}
