import { createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { poolReady } from "../harness/pool-ready.js";
import { closedLoop, type LbRun, mergeRuns } from "./measure.js";

/** Settings of the connection-scaling scenario (gRFC A105). */
export interface A105Settings {
  /** Calls in flight to the one pod. */
  readonly concurrency: number;
  /** The limited pod's --max-concurrent-streams. */
  readonly maxConcurrentStreams: number;
  /** `maxConnectionsPerEndpoint` of the scaling pool. */
  readonly maxConnections: number;
  /** rng-server --fault of both pods: each call holds its stream this long, so that streams are the limit. */
  readonly fault: string;
  readonly warmupMs: number;
  /** Measured per setup, in all. */
  readonly durationMs: number;
  /** The setups take turns this many times. */
  readonly rounds: number;
  /** Loopback pod IPs start at 127.0.0.<firstHost>. */
  readonly firstHost: number;
}

/** One setup's result: the run, and the connections its pool opened. */
export interface A105Row {
  readonly label: string;
  readonly run: LbRun;
  readonly callsPerSecond: number;
  readonly connectionsOpened: number;
}

/**
 * The same closed loop against one pod that allows the default number of
 * streams per connection and one that allows `maxConcurrentStreams`: with
 * connection scaling (`maxConnectionsPerEndpoint`), and without (1). Every
 * call holds its stream for the fault's latency, so throughput is streams
 * in flight / latency.
 */
export async function connectionScaling(s: A105Settings): Promise<A105Row[]> {
  const port = await freePort();
  const args = ["--fault", s.fault];
  const pods: RngServerProcess[] = await Promise.all([
    spawnRngServer({ host: `127.0.0.${s.firstHost}`, port, args }),
    spawnRngServer({
      host: `127.0.0.${s.firstHost + 1}`,
      port,
      args: [...args, "--max-concurrent-streams", String(s.maxConcurrentStreams)],
    }),
  ]);
  const [open, limited] = pods as [RngServerProcess, RngServerProcess];
  const setups = [
    { label: "unlimited pod (250 streams per connection)", pod: open, max: s.maxConnections },
    {
      label: `pod with --max-concurrent-streams ${s.maxConcurrentStreams}, maxConnectionsPerEndpoint ${s.maxConnections}`,
      pod: limited,
      max: s.maxConnections,
    },
    {
      label: `pod with --max-concurrent-streams ${s.maxConcurrentStreams}, maxConnectionsPerEndpoint 1 (without A105)`,
      pod: limited,
      max: 1,
    },
  ];
  const pools: PoolTransport[] = [];
  const runs: LbRun[][] = setups.map(() => []);
  try {
    for (const setup of setups) {
      const pool = createPoolTransport({
        target: `ipv4:${setup.pod.address}`,
        connect: "eager",
        maxConnectionsPerEndpoint: setup.max,
      });
      pools.push(pool);
      await poolReady(pool, 1, 15_000);
    }
    for (let round = 0; round < s.rounds; round++) {
      for (const [i, pool] of pools.entries()) {
        runs[i]?.push(
          await closedLoop(pool, { ...s, warmupMs: s.warmupMs, durationMs: s.durationMs / s.rounds }),
        );
      }
    }
    return setups.map((setup, i) => {
      const run = mergeRuns(runs[i] ?? []);
      return {
        label: setup.label,
        run,
        callsPerSecond: (run.calls - run.errors) / (s.durationMs / 1000),
        connectionsOpened: pools[i]?.stats().endpoints[0]?.connectionsOpened ?? 0,
      };
    });
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(pods.map((p) => p.stop()));
  }
}

/** The three setups' throughput, ratio to the unlimited pod, connections opened, latency. */
export function a105Table(rows: readonly A105Row[]): string {
  const base = rows[0]?.callsPerSecond ?? 0;
  const ms = (us: number) => (us / 1000).toFixed(1);
  const out = [
    "| setup | calls/s | × unlimited | connections opened | p50 ms | p99 ms | max ms | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const l = r.run.latency;
    out.push(
      `| ${r.label} | ${Math.round(r.callsPerSecond)} | ${(base === 0 ? 0 : r.callsPerSecond / base).toFixed(2)} | ${r.connectionsOpened} | ${ms(l.percentile(50))} | ${ms(l.percentile(99))} | ${ms(l.percentile(100))} | ${r.run.errors}${r.run.firstError ? ` (${r.run.firstError})` : ""} |`,
    );
  }
  return out.join("\n");
}
