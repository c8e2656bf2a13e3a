import {
  type Address,
  ConnectivityState,
  createPoolTransport,
  type LocalityOptions,
  type PolicyName,
  type PoolTransport,
  registerResolver,
} from "@rngbalance/dns-pool";
import { FakeResolver } from "@rngbalance/dns-pool/testing";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { waitForStats } from "../harness/pool-ready.js";
import { closedLoop, type LbRun } from "./measure.js";

/** Resolvers the zone scenario feeds by hand, one per client: the zones ride on the addresses. */
const zoneResolvers = new Map<string, FakeResolver>();
registerResolver("bench-zone", { create: (t) => zoneResolvers.get(t.endpoint) as FakeResolver });

/** The zones, 3 pods each; one client per zone, the measured one in zone "a". */
export const ZONES = ["a", "b", "c"] as const;

/** Settings of the zone scenario. */
export interface ZoneSettings {
  /** Calls in flight per client (one client per zone). */
  readonly concurrency: number;
  readonly warmupMs: number;
  /** Measured per phase. */
  readonly durationMs: number;
  /** Loopback pod IPs start at 127.0.0.<firstHost> (9 pods, then 2 saturated ones). */
  readonly firstHost: number;
  /**
   * rng-server --fault of the two saturated zone-a pods, e.g. "cpu:5ms":
   * a client of their own keeps one such call in flight on each, so they
   * stay busy (ORCA utilization near 1) whatever the measured clients do.
   */
  readonly saturateFault: string;
  /** The policy under the locality layer. */
  readonly policy: PolicyName;
}

/** One phase's figures. */
export interface ZonePhase {
  readonly name: string;
  /** The pods in the resolution. */
  readonly pods: number;
  /** Calls of zone a's client answered by pods of other zones. */
  readonly leavingA: number;
  /** Calls answered, all clients. */
  readonly calls: number;
  readonly errors: number;
  /**
   * The remaining healthy zone-a pod's calls (all measured clients) over
   * the mean per pod with capacity: every pod of the resolution but the
   * saturated ones (busy with other load, their calls are not counted).
   */
  readonly localVsMean: number;
  /** Pods published as terminating (still serving), and the calls they answered (all clients). */
  readonly terminatingPods: number;
  readonly terminatingCalls: number;
  /** Calls per pod, all clients, in resolution order (zone a first). */
  readonly perPod: readonly { readonly zone: string; readonly calls: number }[];
}

interface Pod {
  readonly zone: string;
  readonly process: RngServerProcess;
  /** Published as terminating but still serving (EndpointSlice `serving`, `terminating`). */
  readonly terminating?: boolean;
}

/**
 * Three zones of three rng-server pods (ORCA on), one client per zone
 * with `locality: { zone }` over `policy`, all running closed loops at
 * once, so that every zone's clients do the same, as Envoy's proportional
 * spillover assumes. Phases: healthy; two of zone a's pods gone (out of
 * the resolution); those two back but saturated (`saturateFault`, their
 * ORCA utilization near 1 from a load of their own) instead of gone.
 */
export async function zoneScenario(s: ZoneSettings): Promise<ZonePhase[]> {
  const port = await freePort();
  const args = ["--orca", "always", "--orca-interval-ms", "200"];
  const spawn = (i: number, extra: string[] = []) =>
    spawnRngServer({ host: `127.0.0.${s.firstHost + i}`, port, args: [...args, ...extra] });
  const started = await Promise.all(
    Array.from({ length: 11 }, (_, i) => (i < 9 ? spawn(i) : spawn(i, ["--fault", s.saturateFault]))),
  );
  const pods: Pod[] = started
    .slice(0, 9)
    .map((process, i) => ({ zone: ZONES[Math.floor(i / 3)] as string, process }));
  const saturated: Pod[] = started.slice(9).map((process) => ({ zone: "a", process }));
  const [a1, , a3] = pods as [Pod, Pod, Pod];
  const others = pods.slice(3);
  const resolvers: FakeResolver[] = [];
  const pools: PoolTransport[] = [];
  const phases: ZonePhase[] = [];
  const push = (set: readonly Pod[]) => {
    for (const r of resolvers) r.push(set.map(addressOf));
  };
  /** One client per zone (zone a's first), with `locality` options on top of the zone. */
  const clients = (tag: string, locality: LocalityOptions): PoolTransport[] =>
    ZONES.map((zone) => {
      const resolver = new FakeResolver();
      resolver.push(pods.map(addressOf));
      resolvers.push(resolver);
      zoneResolvers.set(`${tag}-${zone}`, resolver);
      const pool = createPoolTransport({
        target: `bench-zone:${tag}-${zone}`,
        authority: "rng.bench:8081",
        policy: s.policy,
        connect: "eager",
        locality: { zone, updatePeriodMs: 250, reportMaxAgeMs: 2000, ...locality },
      });
      pools.push(pool);
      return pool;
    });
  try {
    const orca = clients("orca", {});
    const phase = async (
      name: string,
      clientPools: readonly PoolTransport[],
      set: readonly Pod[],
      local: Pod,
      busy: readonly Pod[] = [],
    ) => {
      push(set);
      await Promise.all(clientPools.map((p) => exactlyReady(p, set.length, 15_000)));
      const loop = { concurrency: s.concurrency, warmupMs: s.warmupMs, durationMs: s.durationMs };
      // The outside load of the saturated pods: one call in flight on each, all the time.
      const noise =
        busy.length === 0
          ? undefined
          : createPoolTransport({
              target: `ipv4:${busy.map((p) => p.process.address).join(",")}`,
              policy: "round_robin",
              connect: "eager",
            });
      try {
        const [runs] = await Promise.all([
          Promise.all(clientPools.map((p) => closedLoop(p, loop))),
          noise && closedLoop(noise, { ...loop, concurrency: busy.length }),
        ]);
        phases.push(figures(name, set, local, runs, busy));
      } finally {
        await noise?.close();
      }
    };
    await phase("healthy", orca, pods, a1);
    await phase("2 of zone a's pods gone", orca, [a3, ...others], a3);
    await phase(
      `2 of zone a's pods saturated (--fault ${s.saturateFault}, kept busy)`,
      orca,
      [...saturated, a3, ...others],
      a3,
      saturated,
    );
    // A draining pod in zone a gets nothing while any pod is READY; with every pod draining, all serve.
    const draining = (p: Pod): Pod => ({ ...p, terminating: true });
    await phase("pod a1 terminating (still serving)", orca, [draining(a1), ...pods.slice(1)], a3);
    await phase("every pod terminating (still serving)", orca, pods.map(draining), a3);
    // The same saturation without ORCA: zone a keeps every call.
    const blind = clients("blind", { utilizationThreshold: 1 });
    await phase(
      "the same, ORCA ignored (utilizationThreshold: 1)",
      blind,
      [...saturated, a3, ...others],
      a3,
      saturated,
    );
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    for (const tag of ["orca", "blind"]) for (const zone of ZONES) zoneResolvers.delete(`${tag}-${zone}`);
    await Promise.all(started.map((p) => p.stop()));
  }
  return phases;
}

function addressOf(pod: Pod): Address {
  const [host, port] = pod.process.address.split(":");
  return {
    host: host as string,
    port: Number(port),
    attributes: pod.terminating ? { zone: pod.zone, terminating: true } : { zone: pod.zone },
  };
}

/** Waits until `pool` has exactly `n` endpoints, all READY. */
function exactlyReady(pool: PoolTransport, n: number, timeoutMs: number): Promise<void> {
  return waitForStats(
    pool,
    ({ endpoints }) => endpoints.length === n && endpoints.every((e) => e.state === ConnectivityState.READY),
    timeoutMs,
  );
}

/** runs: one per client, zone a's first. */
function figures(
  name: string,
  set: readonly Pod[],
  local: Pod,
  runs: readonly LbRun[],
  busy: readonly Pod[],
): ZonePhase {
  const perPod = set.map((p) => ({
    zone: p.zone,
    rn: p.process.rn,
    calls: runs.reduce((sum, r) => sum + (r.byPod.get(p.process.rn) ?? 0), 0),
  }));
  const a = runs[0] as LbRun;
  const answeredA = a.calls - a.errors;
  const inA = set.filter((p) => p.zone === "a").reduce((sum, p) => sum + (a.byPod.get(p.process.rn) ?? 0), 0);
  const capable = perPod.filter((p) => !busy.some((b) => b.process.rn === p.rn));
  const mean = capable.reduce((sum, p) => sum + p.calls, 0) / capable.length;
  return {
    name,
    pods: set.length,
    leavingA: answeredA === 0 ? 0 : (answeredA - inA) / answeredA,
    calls: runs.reduce((sum, r) => sum + r.calls, 0),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    localVsMean: mean === 0 ? 0 : (perPod.find((p) => p.rn === local.process.rn)?.calls ?? 0) / mean,
    terminatingPods: set.filter((p) => p.terminating).length,
    terminatingCalls: perPod.filter((_, i) => set[i]?.terminating).reduce((sum, p) => sum + p.calls, 0),
    perPod: perPod.map(({ zone, calls }) => ({ zone, calls })),
  };
}
