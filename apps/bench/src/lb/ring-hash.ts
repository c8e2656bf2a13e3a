import { ConnectError, createClient, createContextValues } from "@connectrpc/connect";
import { createPoolTransport, hashKey, type PoolTransport, registerResolver } from "@rngbalance/dns-pool";
import { FakeResolver } from "@rngbalance/dns-pool/testing";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort, zipfSampler } from "@rngbalance/testkit";
import { poolReady } from "../harness/pool-ready.js";

/** Settings of the ring_hash scenario. */
export interface RingHashSettings {
  /** Pods at the end; the stickiness phase runs on one fewer, the last one joins after it. */
  readonly pods: number;
  /** Calls in flight (closed loop). */
  readonly concurrency: number;
  /** Distinct keys, drawn with Zipf's law. */
  readonly keys: number;
  /** Zipf exponent s: key k (from 1) is drawn with probability ∝ 1 / k^s. */
  readonly zipfS: number;
  /** The bounded-load run's balanceFactor. */
  readonly balanceFactor: number;
  /** Measured per phase. */
  readonly durationMs: number;
  /** Loopback pod IPs start at 127.0.0.<firstHost>. */
  readonly firstHost: number;
}

/** One load run: calls per pod, and how many of each key's calls went to its most used pod. */
export interface KeyedRun {
  readonly calls: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Calls answered per pod (RN). */
  readonly byPod: ReadonlyMap<bigint, number>;
  /** Each key's pod in most of its calls. */
  readonly home: ReadonlyMap<string, bigint>;
  /** Answered calls that went to their key's most used pod. */
  readonly atHome: number;
  /** Each pod's calls in flight (by address), summed over samples taken every 5 ms, and the number of samples. */
  readonly inFlightSums: ReadonlyMap<string, number>;
  readonly samples: number;
}

/** What the scenario measured. */
export interface RingHashResult {
  readonly pods: number;
  /** Share of calls that went to their key's pod, with stable membership (pods − 1 pods, plain ring_hash). */
  readonly stickiness: number;
  /** Share of keys whose pod changed when the last pod joined, and of those, the share that went to it. */
  readonly moved: number;
  readonly movedToNew: number;
  /** Max pod's answered calls / mean, with all pods, under the Zipf mix: plain ring_hash and bounded loads. */
  readonly plainMaxOverMean: number;
  readonly boundedMaxOverMean: number;
  /** The same for calls in flight (time-averaged): the load the bound applies to. */
  readonly plainInFlightMaxOverMean: number;
  readonly boundedInFlightMaxOverMean: number;
  /** Share of calls that went to their key's most used pod in the bounded run. */
  readonly boundedStickiness: number;
  readonly runs: { readonly stable: KeyedRun; readonly plain: KeyedRun; readonly bounded: KeyedRun };
}

const resolvers = new Map<string, FakeResolver>();
registerResolver("bench-ring", { create: (t) => resolvers.get(t.endpoint) as FakeResolver });

/**
 * ring_hash against real rng-server pods: stickiness while membership is
 * stable, the keys that move when a pod joins, and the load of the busiest
 * pod under a Zipf-skewed key mix, without and with bounded loads.
 */
export async function ringHash(s: RingHashSettings): Promise<RingHashResult> {
  const port = await freePort();
  const pods = await Promise.all(
    Array.from({ length: s.pods }, (_, i) => spawnRngServer({ host: `127.0.0.${s.firstHost + i}`, port })),
  );
  const addresses = pods.map((p) => ({ host: p.address.split(":")[0] as string, port }));
  const keys = Array.from({ length: s.keys }, (_, i) => `key-${i}`);
  const draw = zipfSampler(s.keys, s.zipfS);
  const pools: PoolTransport[] = [];
  const pool = async (name: string, n: number, balanceFactor?: number) => {
    const resolver = new FakeResolver();
    resolver.push(addresses.slice(0, n));
    resolvers.set(name, resolver);
    const p = createPoolTransport({
      target: `bench-ring:${name}`,
      authority: "rng.bench:8081",
      connect: "eager",
      policy: "ring_hash",
      policyConfig: balanceFactor === undefined ? {} : { balanceFactor },
    });
    pools.push(p);
    await poolReady(p, n, 15_000);
    return { pool: p, resolver };
  };
  try {
    // Stable membership, then one more pod.
    const growing = await pool("growing", s.pods - 1);
    const stable = await keyedLoop(growing.pool, s.concurrency, s.durationMs, () => keys[draw()] as string);
    const before = await homes(growing.pool, keys);
    growing.resolver.push(addresses);
    await poolReady(growing.pool, s.pods, 15_000);
    const after = await homes(growing.pool, keys);
    const joined = pods.at(-1) as RngServerProcess;
    const moved = keys.filter((k) => before.get(k) !== after.get(k));
    const movedToNew = moved.filter((k) => after.get(k) === joined.rn).length;

    // Zipf load over all pods, plain and bounded.
    const plainPool = await pool("plain", s.pods);
    const boundedPool = await pool("bounded", s.pods, s.balanceFactor);
    const plain = await keyedLoop(plainPool.pool, s.concurrency, s.durationMs, () => keys[draw()] as string);
    const bounded = await keyedLoop(
      boundedPool.pool,
      s.concurrency,
      s.durationMs,
      () => keys[draw()] as string,
    );
    return {
      pods: s.pods,
      stickiness: stable.atHome / Math.max(1, stable.calls - stable.errors),
      moved: moved.length / keys.length,
      movedToNew: moved.length === 0 ? 1 : movedToNew / moved.length,
      plainMaxOverMean: maxOverMean(plain, s.pods),
      boundedMaxOverMean: maxOverMean(bounded, s.pods),
      plainInFlightMaxOverMean: inFlightMaxOverMean(plain, s.pods),
      boundedInFlightMaxOverMean: inFlightMaxOverMean(bounded, s.pods),
      boundedStickiness: bounded.atHome / Math.max(1, bounded.calls - bounded.errors),
      runs: { stable, plain, bounded },
    };
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(pods.map((p) => p.stop()));
  }
}

/** The busiest pod's answered calls over the mean of all `pods` (pods that got none count as 0). */
function maxOverMean(run: KeyedRun, pods: number): number {
  const counts = [...run.byPod.values()];
  const total = counts.reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : Math.max(...counts) / (total / pods);
}

/** The busiest pod's time-averaged calls in flight over the mean of all `pods`. */
function inFlightMaxOverMean(run: KeyedRun, pods: number): number {
  const sums = [...run.inFlightSums.values()];
  const total = sums.reduce((a, b) => a + b, 0);
  return total === 0 ? 0 : Math.max(...sums) / (total / pods);
}

/** Each key's pod now, from one call per key (keys set through the `hashKey` context value). */
async function homes(pool: PoolTransport, keys: readonly string[]): Promise<Map<string, bigint>> {
  const client = createClient(Rng, pool);
  const out = new Map<string, bigint>();
  for (const key of keys) {
    out.set(key, (await client.rng({}, { contextValues: createContextValues().set(hashKey, key) })).RN);
  }
  return out;
}

/** `concurrency` workers calling back to back for `durationMs`, each call with the key `next()` gives. */
async function keyedLoop(
  pool: PoolTransport,
  concurrency: number,
  durationMs: number,
  next: () => string,
): Promise<KeyedRun> {
  const client = createClient(Rng, pool);
  const end = performance.now() + durationMs;
  const perKey = new Map<string, Map<bigint, number>>();
  const byPod = new Map<bigint, number>();
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (performance.now() < end) {
      const key = next();
      calls++;
      try {
        const rn = (
          await client.rng({}, { contextValues: createContextValues().set(hashKey, key), timeoutMs: 5000 })
        ).RN;
        byPod.set(rn, (byPod.get(rn) ?? 0) + 1);
        let pods = perKey.get(key);
        if (!pods) {
          pods = new Map();
          perKey.set(key, pods);
        }
        pods.set(rn, (pods.get(rn) ?? 0) + 1);
      } catch (err) {
        errors++;
        firstError ??= ConnectError.from(err).message;
      }
    }
  };
  const inFlightSums = new Map<string, number>();
  let samples = 0;
  const sampler = setInterval(() => {
    samples++;
    for (const e of pool.stats().endpoints) {
      inFlightSums.set(e.address, (inFlightSums.get(e.address) ?? 0) + e.inFlight);
    }
  }, 5);
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearInterval(sampler);
  const home = new Map<string, bigint>();
  let atHome = 0;
  for (const [key, pods] of perKey) {
    let best: [bigint, number] = [0n, -1];
    for (const entry of pods) if (entry[1] > best[1]) best = entry;
    home.set(key, best[0]);
    atHome += best[1];
  }
  return { calls, errors, firstError, byPod, home, atHome, inFlightSums, samples };
}

/** The scenario's figures as a Markdown table, with the targets. */
export function ringHashTable(r: RingHashResult, s: RingHashSettings): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const x = (v: number) => `${v.toFixed(2)}×`;
  const plain = r.runs.plain;
  const bounded = r.runs.bounded;
  return [
    "| measure | figure | target |",
    "| --- | ---: | --- |",
    `| calls that reached their key's pod, ${s.pods - 1} pods, stable | ${pct(r.stickiness)} (${r.runs.stable.calls} calls) | ≥ 99 % |`,
    `| keys that moved when pod ${s.pods} joined | ${pct(r.moved)} (${pct(r.movedToNew)} of them to the new pod) | ≤ about ${pct(1 / s.pods)} |`,
    `| busiest pod's calls in flight / mean, Zipf s=${s.zipfS} over ${s.keys} keys, plain ring_hash | ${x(r.plainInFlightMaxOverMean)} | — |`,
    `| busiest pod's calls in flight / mean, same mix, balanceFactor ${s.balanceFactor} | ${x(r.boundedInFlightMaxOverMean)} | ≤ ${s.balanceFactor}× |`,
    `| busiest pod's answered calls / mean, plain ring_hash | ${x(r.plainMaxOverMean)} (${plain.calls} calls, ${plain.errors} errors) | — |`,
    `| busiest pod's answered calls / mean, balanceFactor ${s.balanceFactor} | ${x(r.boundedMaxOverMean)} (${bounded.calls} calls, ${bounded.errors} errors) | — |`,
    `| calls that reached their key's usual pod, bounded | ${pct(r.boundedStickiness)} | — |`,
  ].join("\n");
}
