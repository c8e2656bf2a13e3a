import {
  ConnectivityState,
  createPoolTransport,
  type PolicyName,
  type PoolTransport,
  type PoolTransportOptions,
  registerResolver,
} from "@rngbalance/dns-pool";
import { FakeResolver } from "@rngbalance/dns-pool/testing";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { poolReady } from "../harness/pool-ready.js";
import { closedLoop, type LbRun, mergeRuns, shareOf } from "./measure.js";

/** The policies compared on a bad pod. */
export const LB_POLICIES: readonly PolicyName[] = [
  "round_robin",
  "least_request",
  "peak_ewma",
  "weighted_round_robin",
];

/** Settings of the bad-pod scenarios. */
export interface BadPodSettings {
  /** Pods in all, the last one bad. */
  readonly pods: number;
  /** rng-server --fault of the bad pod, e.g. "latency:50ms". */
  readonly fault: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Loopback pod IPs start at 127.0.0.<firstHost>. */
  readonly firstHost: number;
  /** peak_ewma's time constant. */
  readonly peakEwmaDecayMs: number;
  /**
   * The policies take turns in this many rounds (each `warmupMs` unmeasured
   * then `durationMs / rounds` measured), so that the load of other
   * processes on a shared machine falls on every policy alike.
   */
  readonly rounds: number;
}

/** One policy's result on a bad pod. */
export interface BadPodResult {
  readonly policy: PolicyName;
  readonly run: LbRun;
  /** The bad pod's share of answered calls. */
  readonly badShare: number;
}

/** Pool options of the bench: WRR with a 1 s blackout (A58's 10 s would outlast a short run). */
function poolOptions(target: string, policy: PolicyName, peakEwmaDecayMs = 10_000): PoolTransportOptions {
  return {
    target,
    policy,
    connect: "eager",
    peakEwma: { decayMs: peakEwmaDecayMs },
    ...(policy === "weighted_round_robin" ? { weightedRoundRobin: { blackoutPeriodMs: 1000 } } : {}),
  };
}

async function readyPool(options: PoolTransportOptions, n: number): Promise<PoolTransport> {
  const pool = createPoolTransport(options);
  await poolReady(pool, n, 15_000);
  return pool;
}

/** Starts `n` rng-server pods (ORCA reports on), the last with `lastArgs`. */
async function startPods(n: number, firstHost: number, lastArgs: string[]): Promise<RngServerProcess[]> {
  const port = await freePort();
  const orca = ["--orca", "always"];
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      spawnRngServer({
        host: `127.0.0.${firstHost + i}`,
        port,
        args: i === n - 1 ? [...orca, ...lastArgs] : orca,
      }),
    ),
  );
}

/** Every policy in turn over the same pods, one of them bad. */
export async function badPod(s: BadPodSettings, policies = LB_POLICIES): Promise<BadPodResult[]> {
  const pods = await startPods(s.pods, s.firstHost, ["--fault", s.fault]);
  const bad = pods.at(-1) as RngServerProcess;
  const target = `ipv4:${pods.map((p) => p.address).join(",")}`;
  const pools = new Map<PolicyName, PoolTransport>();
  const runs = new Map<PolicyName, LbRun[]>(policies.map((p) => [p, []]));
  try {
    for (const policy of policies) {
      pools.set(policy, await readyPool(poolOptions(target, policy, s.peakEwmaDecayMs), s.pods));
    }
    for (let round = 0; round < s.rounds; round++) {
      for (const policy of policies) {
        const run = await closedLoop(pools.get(policy) as PoolTransport, {
          ...s,
          durationMs: s.durationMs / s.rounds,
        });
        runs.get(policy)?.push(run);
      }
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.close()));
    await Promise.all(pods.map((p) => p.stop()));
  }
  return policies.map((policy) => {
    const run = mergeRuns(runs.get(policy) ?? []);
    return { policy, run, badShare: shareOf(run, bad.rn) };
  });
}

/** Resolvers the scale-up feeds by hand: the new pod joins at a known moment. */
const handResolvers = new Map<string, FakeResolver>();
registerResolver("bench-hand", { create: (t) => handResolvers.get(t.endpoint) as FakeResolver });

/** Settings of the scale-up scenario. */
export interface ScaleUpSettings {
  /** Pods at the start; one more joins. */
  readonly pods: number;
  readonly concurrency: number;
  /** Before the new pod joins. */
  readonly beforeMs: number;
  /** Slow start window when on. */
  readonly windowMs: number;
  /** After the window, still measured. */
  readonly afterMs: number;
  readonly firstHost: number;
  readonly policy: PolicyName;
}

/** The new pod's share in each second after it became READY, slow start on and off. */
export async function scaleUp(s: ScaleUpSettings): Promise<{ on: number[]; off: number[] }> {
  const pods = await startPods(s.pods + 1, s.firstHost, []);
  const joining = pods.at(-1) as RngServerProcess;
  const addresses = pods.map((p) => {
    const [host, port] = p.address.split(":");
    return { host: host as string, port: Number(port) };
  });
  const out = { on: [] as number[], off: [] as number[] };
  try {
    for (const mode of ["on", "off"] as const) {
      const resolver = new FakeResolver();
      resolver.push(addresses.slice(0, s.pods));
      handResolvers.set(mode, resolver);
      const pool = await readyPool(
        {
          ...poolOptions(`bench-hand:${mode}`, s.policy),
          authority: "rng.bench:8081",
          slowStart: mode === "on" ? { windowMs: s.windowMs } : false,
        },
        s.pods,
      );
      let readyAt = 0;
      pool.on("endpointState", (e) => {
        if (e.address === joining.address && e.state === ConnectivityState.READY && readyAt === 0) {
          readyAt = performance.now();
        }
      });
      const started = performance.now();
      try {
        const run = await closedLoop(pool, {
          concurrency: s.concurrency,
          warmupMs: 0,
          durationMs: s.beforeMs + s.windowMs + s.afterMs,
          at: { atMs: s.beforeMs, run: () => resolver.push(addresses) },
        });
        // Whole seconds from the moment the new pod was READY.
        const firstSecond = Math.ceil((readyAt - started) / 1000);
        out[mode] = run.perSecond
          .slice(firstSecond, firstSecond + (s.windowMs + s.afterMs) / 1000)
          .map((b) => {
            const total = [...b.values()].reduce((x, y) => x + y, 0);
            return total === 0 ? 0 : (b.get(joining.rn) ?? 0) / total;
          });
      } finally {
        await pool.close();
      }
    }
  } finally {
    await Promise.all(pods.map((p) => p.stop()));
  }
  return out;
}
