import { monitorEventLoopDelay } from "node:perf_hooks";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createPoolTransport, type PoolTransport, type PoolTransportOptions } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { Histogram } from "../harness/histogram.js";
import { poolReady } from "../harness/pool-ready.js";
import { closedLoop, type LbRun, mergeRuns } from "./measure.js";

async function readyPool(options: PoolTransportOptions, n: number): Promise<PoolTransport> {
  const pool = createPoolTransport(options);
  await poolReady(pool, n, 15_000);
  return pool;
}

/** Starts `n` rng-server pods on one port; `argsOf(i)` per pod. */
async function startPods(
  n: number,
  firstHost: number,
  argsOf: (i: number) => string[],
): Promise<RngServerProcess[]> {
  const port = await freePort();
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      spawnRngServer({ host: `127.0.0.${firstHost + i}`, port, args: argsOf(i) }),
    ),
  );
}

/** Settings of the hedging scenario (`--scenario hedging`). */
export interface HedgingSettings {
  /** Pods in all; in the tail-latency part the last one is slow. */
  readonly pods: number;
  /** rng-server --fault of the slow pod, e.g. "latency:50ms". */
  readonly fault: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  /** Measured per mode (hedging on, off), in all. */
  readonly durationMs: number;
  /** Calls started per second in the tail-latency part (paced, the same for every pool). */
  readonly ratePerSecond: number;
  /** Callers in the tail-latency part: enough that a slow call never holds back the rate. */
  readonly workers: number;
  /** The modes take turns in this many rounds. */
  readonly rounds: number;
  /** hedgingPolicy.hedgingDelayMs of the hedged pool. */
  readonly hedgingDelayMs: number;
  /** Measured per pool in the outage part. */
  readonly outageMs: number;
  /** Loopback pod IPs start at 127.0.0.<firstHost> (the outage's pods follow). */
  readonly firstHost: number;
}

/** One pool's figures. */
export interface HedgingRow {
  readonly name: string;
  readonly run: LbRun;
  /** Extra attempts (hedges or policy retries) per call. */
  readonly extraRatio: number;
  /** Extra attempts the budget or throttle refused, per call. */
  readonly refusedRatio: number;
  /** p99 of the bench process's event-loop delay while measuring, ms (how late timers, the hedge's included, fired). */
  readonly loopDelayP99Ms: number;
}

/** What the scenario measured. */
export interface HedgingResult {
  readonly tail: readonly HedgingRow[];
  readonly outage: readonly HedgingRow[];
}

/**
 * `workers` callers, each pacing itself so that all together start
 * `ratePerSecond` calls per second (a call that takes longer than its slot
 * delays only its own worker): both pools then get the same offered load,
 * where a closed loop would give the one with the shorter tail more calls
 * per second and more CPU contention.
 */
async function pacedLoop(
  pool: PoolTransport,
  o: { workers: number; ratePerSecond: number; durationMs: number },
): Promise<LbRun> {
  const client = createClient(Rng, pool);
  const latency = new Histogram();
  const byPod = new Map<bigint, number>();
  const periodMs = (1000 * o.workers) / o.ratePerSecond;
  const end = performance.now() + o.durationMs;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async (i: number) => {
    // Spread the workers' first calls over one period.
    await new Promise((r) => setTimeout(r, (i * periodMs) / o.workers));
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const rn = (await client.rng({}, { timeoutMs: 5000 })).RN;
        byPod.set(rn, (byPod.get(rn) ?? 0) + 1);
      } catch (err) {
        errors++;
        firstError ??= ConnectError.from(err).message;
      }
      const done = performance.now();
      calls++;
      latency.record((done - t) * 1000);
      const wait = periodMs - (done - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  await Promise.all(Array.from({ length: o.workers }, (_, i) => worker(i)));
  return { calls, errors, firstError, byPod, latency, perSecond: [] };
}

const extraOf = (pool: PoolTransport) => {
  const r = pool.stats().retries;
  return { extra: r.hedges + r.policy, refused: r.refused.budget + r.refused.throttle };
};

/** A closed-loop run after an unmeasured warm-up, with the extra attempts of the measured part. */
async function measured(
  pool: PoolTransport,
  concurrency: number,
  warmupMs: number,
  durationMs: number,
  ratePerSecond?: number,
): Promise<{ run: LbRun; extra: number; refused: number; loopDelayP99Ms: number }> {
  const loop = (ms: number) =>
    ratePerSecond === undefined
      ? closedLoop(pool, { concurrency, warmupMs: 0, durationMs: ms })
      : pacedLoop(pool, { workers: concurrency, ratePerSecond, durationMs: ms });
  if (warmupMs > 0) await loop(warmupMs);
  const before = extraOf(pool);
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const run = await loop(durationMs);
  lag.disable();
  const after = extraOf(pool);
  return {
    run,
    extra: after.extra - before.extra,
    refused: after.refused - before.refused,
    loopDelayP99Ms: lag.percentile(99) / 1e6,
  };
}

/**
 * Two parts. Tail latency: one of `pods` pods slow (`fault`), round_robin,
 * without hedging and with `hedgingPolicy: { maxAttempts: 2,
 * hedgingDelayMs }` (or a `hedgingDelayPercentile`), taking turns: p50/p99
 * and the extra attempts per call. Outage: every pod failing with UNAVAILABLE, hedging (maxAttempts
 * 5, UNAVAILABLE non-fatal) and retryPolicy (maxAttempts 5), each with the
 * default budget (20 % + 10/s over 10 s) and without: extra attempts per call.
 */
export async function hedging(s: HedgingSettings): Promise<HedgingResult> {
  const tail: HedgingRow[] = [];
  {
    const pods = await startPods(s.pods, s.firstHost, (i) => (i === s.pods - 1 ? ["--fault", s.fault] : []));
    const target = `ipv4:${pods.map((p) => p.address).join(",")}`;
    const base: PoolTransportOptions = { target, policy: "round_robin", connect: "eager" };
    const modes: [string, PoolTransportOptions][] = [
      ["no hedging", base],
      [
        `hedging (delay ${s.hedgingDelayMs} ms)`,
        { ...base, hedgingPolicy: { maxAttempts: 2, hedgingDelayMs: s.hedgingDelayMs } },
      ],
      [
        `hedging (delay ${s.hedgingDelayMs} ms), liveness off`,
        { ...base, liveness: false, hedgingPolicy: { maxAttempts: 2, hedgingDelayMs: s.hedgingDelayMs } },
      ],
      // A latency-aware policy sends the slow pod few first attempts: few hedges are needed.
      [
        `peak_ewma + hedging (delay ${s.hedgingDelayMs} ms)`,
        {
          ...base,
          policy: "peak_ewma",
          peakEwma: { decayMs: 1000 },
          hedgingPolicy: { maxAttempts: 2, hedgingDelayMs: s.hedgingDelayMs },
        },
      ],
      // The delay from the calls' own latencies. Under round_robin a percentile cannot help here:
      // the slow pod holds a fifth of the first attempts, so any percentile above 80 is its latency
      // and any below hedges more than the default budget allows (docs/hedging.md).
      [
        "peak_ewma + hedging (p95 of recent latencies)",
        {
          ...base,
          policy: "peak_ewma",
          peakEwma: { decayMs: 1000 },
          hedgingPolicy: { maxAttempts: 2, hedgingDelayPercentile: 95 },
        },
      ],
      // The floor on this machine: the healthy pods alone, no hedging.
      [
        `reference: the ${s.pods - 1} healthy pods only`,
        {
          ...base,
          target: `ipv4:${pods
            .slice(0, -1)
            .map((p) => p.address)
            .join(",")}`,
        },
      ],
    ];
    const pools = new Map<string, PoolTransport>();
    const runs = new Map<string, { runs: LbRun[]; extra: number; refused: number; lag: number }>();
    try {
      for (const [name, options] of modes) {
        pools.set(name, await readyPool(options, name.startsWith("reference") ? s.pods - 1 : s.pods));
        runs.set(name, { runs: [], extra: 0, refused: 0, lag: 0 });
      }
      for (let round = 0; round < s.rounds; round++) {
        for (const [name] of modes) {
          const m = await measured(
            pools.get(name) as PoolTransport,
            s.workers,
            s.warmupMs,
            s.durationMs / s.rounds,
            s.ratePerSecond,
          );
          const acc = runs.get(name) as { runs: LbRun[]; extra: number; refused: number; lag: number };
          acc.lag = Math.max(acc.lag, m.loopDelayP99Ms);
          acc.runs.push(m.run);
          acc.extra += m.extra;
          acc.refused += m.refused;
        }
      }
    } finally {
      await Promise.all([...pools.values()].map((p) => p.close()));
      await Promise.all(pods.map((p) => p.stop()));
    }
    for (const [name] of modes) {
      const acc = runs.get(name) as { runs: LbRun[]; extra: number; refused: number; lag: number };
      const run = mergeRuns(acc.runs);
      tail.push({
        name,
        run,
        extraRatio: acc.extra / run.calls,
        refusedRatio: acc.refused / run.calls,
        loopDelayP99Ms: acc.lag,
      });
    }
  }
  const outage: HedgingRow[] = [];
  {
    const pods = await startPods(s.pods, s.firstHost + s.pods, () => ["--fault", "unavailable"]);
    const target = `ipv4:${pods.map((p) => p.address).join(",")}`;
    // Outlier detection off: it would eject pods and change what is measured.
    const base: PoolTransportOptions = { target, connect: "eager", outlierDetection: false };
    const hedge = {
      hedgingPolicy: { maxAttempts: 5, hedgingDelayMs: s.hedgingDelayMs, nonFatalCodes: [Code.Unavailable] },
    };
    const retry = {
      retryPolicy: { maxAttempts: 5, retryableCodes: [Code.Unavailable], initialBackoffMs: 1 },
    };
    const modes: [string, PoolTransportOptions][] = [
      ["hedging, default budget", { ...base, ...hedge }],
      ["hedging, no budget", { ...base, ...hedge, retryBudget: false }],
      ["retryPolicy, default budget", { ...base, ...retry }],
      ["retryPolicy, no budget", { ...base, ...retry, retryBudget: false }],
    ];
    try {
      for (const [name, options] of modes) {
        const pool = await readyPool(options, s.pods);
        try {
          // No warm-up: the budget's window starts with the pool, as in a real outage's first seconds.
          const m = await measured(pool, s.concurrency, 0, s.outageMs);
          outage.push({
            name,
            run: m.run,
            extraRatio: m.extra / m.run.calls,
            refusedRatio: m.refused / m.run.calls,
            loopDelayP99Ms: m.loopDelayP99Ms,
          });
        } finally {
          await pool.close();
        }
      }
    } finally {
      await Promise.all(pods.map((p) => p.stop()));
    }
  }
  return { tail, outage };
}

const ms = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(0)}` : (us / 1000).toFixed(1));
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The tail-latency table (with p99 ratios against the first row) and the outage table. */
export function hedgingTables(r: HedgingResult): string {
  const first = r.tail[0]?.run.latency.percentile(99) ?? 0;
  const tail = [
    "| pool | calls | p50 ms | p99 ms | p99.9 ms | p99 of the first row ÷ this p99 | extra attempts per call | refused by the budget per call | event-loop delay p99 ms | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...r.tail.map((row) => {
      const l = row.run.latency;
      return `| ${row.name} | ${row.run.calls} | ${ms(l.percentile(50))} | ${ms(l.percentile(99))} | ${ms(l.percentile(99.9))} | ${(first / l.percentile(99)).toFixed(2)}× | ${pct(row.extraRatio)} | ${pct(row.refusedRatio)} | ${row.loopDelayP99Ms.toFixed(1)} | ${row.run.errors}${row.run.firstError ? ` (${row.run.firstError})` : ""} |`;
    }),
  ];
  const outage = [
    "| pool (every pod UNAVAILABLE, maxAttempts 5) | calls | extra attempts per call | refused per call |",
    "| --- | ---: | ---: | ---: |",
    ...r.outage.map(
      (row) => `| ${row.name} | ${row.run.calls} | ${pct(row.extraRatio)} | ${pct(row.refusedRatio)} |`,
    ),
  ];
  return `${tail.join("\n")}\n\n${outage.join("\n")}`;
}
