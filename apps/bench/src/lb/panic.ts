import { createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { waitForStats } from "../harness/pool-ready.js";
import { closedLoop, type LbRun } from "./measure.js";

/** Settings of the panic scenario. */
export interface PanicSettings {
  /** Pods in all. */
  readonly pods: number;
  /** Of those, pods whose health says NOT_SERVING (they still answer calls). */
  readonly notServing: number;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Loopback pod IPs start at 127.0.0.<firstHost>. */
  readonly firstHost: number;
}

/** One pool's run over the sick fleet. */
export interface PanicResult {
  /** The pool's `panicThresholdPercent`. */
  readonly thresholdPercent: number;
  readonly run: LbRun;
  /** Pods that answered at least one call. */
  readonly podsAnswering: number;
  /** The busiest pod's share of the answers. */
  readonly maxShare: number;
  /** The NOT_SERVING pods' share of the answers. */
  readonly notServingShare: number;
  /** Whether the pool said it was in panic. */
  readonly panic: boolean;
}

/**
 * `notServing` of `pods` pods report NOT_SERVING; round_robin pools with
 * the panic threshold at 50 % (the default) and off (0) each run a closed
 * loop: how the calls spread.
 */
export async function panicSpread(s: PanicSettings): Promise<PanicResult[]> {
  const port = await freePort();
  const pods = await Promise.all(
    Array.from({ length: s.pods }, (_, i) =>
      spawnRngServer({
        host: `127.0.0.${s.firstHost + i}`,
        port,
        args: i < s.notServing ? ["--fault", "not-serving"] : [],
      }),
    ),
  );
  const sick = new Set(pods.slice(0, s.notServing).map((p: RngServerProcess) => p.rn));
  const target = `ipv4:${pods.map((p) => p.address).join(",")}`;
  const results: PanicResult[] = [];
  try {
    for (const thresholdPercent of [50, 0]) {
      const pool = createPoolTransport({ target, connect: "eager", panicThresholdPercent: thresholdPercent });
      try {
        await settled(pool, s.notServing);
        const run = await closedLoop(pool, s);
        const answered = run.calls - run.errors;
        const counts = [...run.byPod.values()];
        const toSick = [...run.byPod].filter(([rn]) => sick.has(rn)).reduce((sum, [, n]) => sum + n, 0);
        results.push({
          thresholdPercent,
          run,
          podsAnswering: counts.filter((n) => n > 0).length,
          maxShare: answered === 0 ? 0 : Math.max(...counts) / answered,
          notServingShare: answered === 0 ? 0 : toSick / answered,
          panic: pool.stats().panic,
        });
      } finally {
        await pool.close();
      }
    }
  } finally {
    await Promise.all(pods.map((p) => p.stop()));
  }
  return results;
}

/** Waits until health checking has answered for every pod. */
function settled(pool: PoolTransport, notServing: number): Promise<void> {
  return waitForStats(
    pool,
    ({ endpoints }) => {
      const sick = endpoints.filter((e) => e.health === "NOT_SERVING").length;
      const serving = endpoints.filter((e) => e.health === "SERVING").length;
      return sick === notServing && serving === endpoints.length - notServing;
    },
    15_000,
    "health not settled",
  );
}

/** The panic scenario's table. */
export function panicTable(results: readonly PanicResult[], pods: number, notServing: number): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  return [
    `| panicThresholdPercent | in panic | pods answering (of ${pods}) | busiest pod's share | to the ${notServing} NOT_SERVING pods | calls | errors | p99 |`,
    "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map(
      (r) =>
        `| ${r.thresholdPercent === 0 ? "0 (off)" : r.thresholdPercent} | ${r.panic ? "yes" : "no"} | ${r.podsAnswering} | ${pct(r.maxShare)} | ${pct(r.notServingShare)} | ${r.run.calls} | ${r.run.errors} | ${(r.run.latency.percentile(99) / 1000).toFixed(2)} ms |`,
    ),
  ].join("\n");
}
