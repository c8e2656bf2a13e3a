import { createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, type PolicyName } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort, until } from "@rngbalance/testkit";
import type { Stage } from "./stage.js";
import type { PhaseResult } from "./table.js";

/** What the slow-pod phase needs from the demo. */
export type SlowPodStage = Pick<Stage, "out" | "pace" | "signal" | "track" | "results">;

/** One policy's run against the pods. */
interface SlowPodRun {
  readonly policy: PolicyName;
  readonly calls: number;
  readonly errors: number;
  readonly slowShare: number;
  readonly p99Ms: number;
}

const POLICIES: readonly PolicyName[] = ["round_robin", "peak_ewma"];

/**
 * Phase 5: four pods, one of them answering every call 50 ms late
 * (`rng-server --fault latency:50ms`); the same closed-loop load (8 calls in
 * flight) through a pool with round_robin, then with peak_ewma. round_robin
 * gives the slow pod its quarter and the p99 is its 50 ms; peak_ewma sees
 * the latency and sends it almost nothing. Pass: peak_ewma gives the slow
 * pod less than half of round_robin's share, and no call fails.
 */
export async function slowPodPhase(stage: SlowPodStage): Promise<void> {
  const { out } = stage;
  out.heading("Phase 5: one slow pod, round_robin vs peak_ewma");
  out.explain(
    "Four more pods, one of them answering every call 50 ms late (rng-server --fault latency:50ms).\n" +
      "The same load, 8 calls in flight, through round_robin and then peak_ewma, which weighs each\n" +
      "pod by its recent latency (peak EWMA) times its calls in flight, as Linkerd and Finagle do:",
  );
  stage.results.push(...(await comparePolicies(stage)));
}

/** Starts the four pods, runs the load through each policy and prints the comparison; stops the pods. */
async function comparePolicies(stage: SlowPodStage): Promise<PhaseResult[]> {
  const { out, pace, signal, track } = stage;
  const { style } = out;
  const port = await freePort();
  const hosts = ["127.0.0.240", "127.0.0.241", "127.0.0.242", "127.0.0.243"];
  const pods: RngServerProcess[] = [];
  try {
    for (const [i, host] of hosts.entries()) {
      const slow = i === hosts.length - 1;
      const pod = await spawnRngServer({ host, port, args: slow ? ["--fault", "latency:50ms"] : [] });
      pods.push(pod);
      track(`${slow ? "slow pod" : "pod"} ${pod.address}`, pod.child);
      const what = slow ? style.red("--fault latency:50ms: every call answered 50 ms late") : "";
      out.say(`  ${pod.address.padEnd(17)} pid ${String(pod.child.pid).padEnd(7)} ${what}`.trimEnd());
    }
    const slow = pods.at(-1) as RngServerProcess;
    const target = `ipv4:${pods.map((p) => p.address).join(",")}`;
    const runs: SlowPodRun[] = [];
    for (const policy of POLICIES) {
      signal.throwIfAborted();
      const run = await load(target, policy, slow.rn, pace.slowPodLoadMs);
      runs.push(run);
      out.say(
        `  ${policy.padEnd(12)} │ ${String(run.calls).padStart(5)} calls, slow pod ${pct(run.slowShare).padStart(6)} of them, p99 ${run.p99Ms.toFixed(0)} ms, ${run.errors} errors`,
      );
    }
    const [rr, pe] = runs as [SlowPodRun, SlowPodRun];
    const ok = pe.slowShare < rr.slowShare / 2 && rr.errors + pe.errors === 0;
    const mark = ok ? style.green("✓") : style.red("✗");
    out.say(
      `  ${mark} peak_ewma sent the slow pod ${pct(pe.slowShare)} of the calls (round_robin: ${pct(rr.slowShare)}); p99 ${pe.p99Ms.toFixed(0)} ms vs ${rr.p99Ms.toFixed(0)} ms`,
    );
    return runs.map((r, i) => ({
      phase: `5${"ab"[i]}. slow pod, ${r.policy}`,
      calls: r.calls,
      instances: 4,
      errors: r.errors,
      note: `slow pod ${pct(r.slowShare)}, p99 ${r.p99Ms.toFixed(0)} ms`,
      ok,
    }));
  } finally {
    await Promise.all(pods.map((p) => p.stop()));
  }
}

/** 8 calls in flight through a fresh pool for `ms`, after a 1 s warm-up. */
async function load(target: string, policy: PolicyName, slowRn: bigint, ms: number): Promise<SlowPodRun> {
  const pool = createPoolTransport({ target, policy, connect: "eager" });
  try {
    await until(
      () => pool.stats().endpoints.every((e) => e.state === ConnectivityState.READY),
      10_000,
      "READY",
    );
    const client = createClient(Rng, pool);
    const from = performance.now() + 1000;
    const end = from + ms;
    const latencies: number[] = [];
    let slowCalls = 0;
    let errors = 0;
    const worker = async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          const { RN } = await client.rng({}, { timeoutMs: 5000 });
          if (t < from) continue;
          latencies.push(performance.now() - t);
          if (RN === slowRn) slowCalls++;
        } catch {
          if (t >= from) errors++;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    latencies.sort((a, b) => a - b);
    const p99Ms = latencies[Math.min(latencies.length - 1, Math.ceil(0.99 * latencies.length) - 1)] ?? 0;
    return {
      policy,
      calls: latencies.length + errors,
      errors,
      slowShare: latencies.length === 0 ? 0 : slowCalls / latencies.length,
      p99Ms,
    };
  } finally {
    await pool.close();
  }
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)} %`;
}
