import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { PoolTransport, PoolTransportOptions } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngPods } from "@rngbalance/rng-fleet";
import { collect, histograms, testMeter, total } from "@rngbalance/testkit/metrics";
import { METRIC } from "../src/telemetry/names.js";
import { readyPool } from "./support.js";

// Real rng-server processes on loopback pod IPs, called through a real pool
// on its fast unary paths. The slow pod serves Prometheus metrics, so the
// test sees from the server's side that the losing attempts were cancelled.
// Shares and counts with margins, no timings: the machine is shared.

const METHOD = { "grpc.method": "rng.Rng/Rng" };

/** The sum of the `grpc_server_call_*` series of rng.Rng/Rng on a pod's /metrics with `status` (or all). */
async function serverCalls(metricsAddr: string, name: string, status?: string): Promise<number> {
  const text = await (await fetch(`http://${metricsAddr}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) || !line.includes('grpc_method="rng.Rng/Rng"')) continue;
    if (status !== undefined && !line.includes(`grpc_status="${status}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/** Polls an async condition every 20 ms until it holds, or fails after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("hedging over real servers", () => {
  const servers: RngServerProcess[] = [];
  const pools: PoolTransport[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  /** Pods on `hosts`, one port, each with a metrics listener on its own host; `args(i)` per pod. */
  const spawnPods = async (hosts: string[], args: (i: number) => string[]) => {
    const started = await spawnRngPods({ hosts, args, metrics: true });
    servers.push(...started.pods);
    return started;
  };

  for (const protocol of ["grpc", "connect"] as const) {
    it(`${protocol} fast path: a call stuck on the slow pod is hedged to another, which answers; the slow pod sees the cancel`, async () => {
      const hosts =
        protocol === "grpc"
          ? ["127.0.0.81", "127.0.0.82", "127.0.0.83", "127.0.0.84"]
          : ["127.0.0.85", "127.0.0.86", "127.0.0.87", "127.0.0.88"];
      // The last pod answers 2 s late: without hedging a call to it would take 2 s.
      const { port, pods, metrics } = await spawnPods(hosts, (i) =>
        i === 3 ? ["--fault", "latency:2s"] : [],
      );
      const slow = pods[3] as RngServerProcess;
      const slowMetrics = metrics[3] as string;
      const { provider, reader } = testMeter();
      const target = `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`;
      const pool = await readyPool(
        pools,
        {
          target,
          protocol,
          outlierDetection: false,
          policy: "round_robin",
          hedgingPolicy: { maxAttempts: 2, hedgingDelayMs: 100 },
          telemetry: { meterProvider: provider },
        },
        4,
      );
      const client = createClient(Rng, pool);
      const calls = 20;
      const rns: bigint[] = [];
      const t0 = Date.now();
      for (let i = 0; i < calls; i++) rns.push((await client.rng({}, { timeoutMs: 5000 })).RN);
      const elapsed = Date.now() - t0;
      assert.ok(!rns.includes(slow.rn), "no answer came from the slow pod");
      const hedges = pool.stats().retries.hedges;
      // round_robin sends it about a quarter of the first attempts.
      assert.ok(hedges >= 3 && hedges <= 10, `hedges: ${hedges} of ${calls} calls (a quarter expected)`);
      assert.ok(elapsed < 2000 * 2, `${calls} calls took ${elapsed} ms: none waited out the 2 s pod`);
      // The slow pod's calls were reset by the client, none finished.
      await eventually(
        async () =>
          (await serverCalls(slowMetrics, "grpc_server_call_duration_seconds_count", "CANCELLED")) === hedges,
        5000,
        "the slow pod counts every hedged-away call as CANCELLED",
      );
      assert.equal(await serverCalls(slowMetrics, "grpc_server_call_duration_seconds_count", "OK"), 0);
      // A96: grpc.client.call.hedges, one point per hedged call; attempts counted as A66 says.
      const m = await collect(reader);
      const [h] = histograms(m, METRIC.callHedges, { ...METHOD, "grpc.target": target });
      assert.equal(h?.count, hedges, "one grpc.client.call.hedges record per hedged call");
      assert.equal(h?.sum, hedges);
      assert.equal(total(m, METRIC.attemptStarted, METHOD), calls + hedges);
      assert.equal(total(m, METRIC.callDuration, { ...METHOD, "grpc.status": "OK" }), calls);
      assert.equal(
        total(m, METRIC.attemptDuration, { ...METHOD, "grpc.status": "CANCELLED" }),
        hedges,
        "the losing attempts end CANCELLED",
      );
    });
  }

  it("hedgingDelayPercentile: no timed hedge before 100 latencies; then the slow pod's calls are hedged at the fast pods' latency", async () => {
    const hosts = ["127.0.0.101", "127.0.0.102", "127.0.0.103", "127.0.0.104"];
    // A quarter of the calls (round_robin's share of the last pod) take 300 ms: the 70th
    // percentile of the call latencies is a fast pod's, so those are the ones hedged.
    const { port, pods } = await spawnPods(hosts, (i) => (i === 3 ? ["--fault", "latency:300ms"] : []));
    const slow = pods[3] as RngServerProcess;
    const pool = await readyPool(
      pools,
      {
        target: `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`,
        outlierDetection: false,
        policy: "round_robin",
        hedgingPolicy: { maxAttempts: 2, hedgingDelayPercentile: 70 },
        retryBudget: false,
      },
      4,
    );
    const client = createClient(Rng, pool);
    // 100 calls, 16 at a time: each started before the 100th answer (the last after the 84th),
    // while there was no delay yet, so none is hedged on a timer; every later call has one.
    const warmUp: bigint[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 100) {
          next++;
          warmUp.push((await client.rng({}, { timeoutMs: 5000 })).RN);
        }
      }),
    );
    assert.equal(pool.stats().retries.hedges, 0, "no hedge before 100 latencies");
    assert.ok(warmUp.includes(slow.rn), "the slow pod answered its share meanwhile");
    // From now on the delay is the 70th percentile: a fast pod's latency, far below 300 ms.
    const rns: bigint[] = [];
    for (let i = 0; i < 200; i++) rns.push((await client.rng({}, { timeoutMs: 5000 })).RN);
    const hedges = pool.stats().retries.hedges;
    assert.equal(
      rns.filter((rn) => rn === slow.rn).length,
      0,
      "every call to the slow pod was answered by a hedge",
    );
    assert.ok(
      hedges >= 30 && hedges <= 150,
      `hedges: ${hedges} of 200 calls (about a quarter, plus some fast ones)`,
    );
  });

  it("a full outage: the budget holds hedges and retries to its ratio, the A6 throttle stops them", async () => {
    const hosts = ["127.0.0.91", "127.0.0.92", "127.0.0.93"];
    const { port, metrics } = await spawnPods(hosts, () => ["--fault", "unavailable"]);
    const target = `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`;
    const attempts = async () => {
      let n = 0;
      for (const addr of metrics) n += await serverCalls(addr, "grpc_server_call_started_total");
      return n;
    };
    const hedging = { maxAttempts: 5, hedgingDelayMs: 50, nonFatalCodes: [Code.Unavailable] };
    const run = async (options: Partial<PoolTransportOptions>) => {
      const pool = await readyPool(
        pools,
        { target, hedgingPolicy: hedging, outlierDetection: false, ...options },
        3,
      );
      const client = createClient(Rng, pool);
      const before = await attempts();
      const calls = 100;
      for (let i = 0; i < calls; i++) {
        const err = await client.rng({}, { timeoutMs: 5000 }).then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
        assert.equal(err?.code, Code.Unavailable);
      }
      await eventually(async () => (await attempts()) - before >= calls, 5000, "servers counted the calls");
      return { extra: (await attempts()) - before - calls, stats: pool.stats().retries, calls };
    };
    // Budget: 20 % of the calls, no floor per second.
    const budget = await run({ retryBudget: { ratio: 0.2, minRetriesPerSecond: 0 } });
    assert.ok(
      budget.extra <= 0.2 * budget.calls,
      `extra attempts ${budget.extra} within 20 % of ${budget.calls}`,
    );
    assert.ok(budget.extra >= 0.15 * budget.calls, `the budget is spent: ${budget.extra}`);
    assert.equal(budget.stats.hedges, budget.extra);
    assert.ok(budget.stats.refused.budget > 0);
    // A6 throttle alone: 10 tokens, 5 failures bring it to half, then no more hedges.
    const throttled = await run({ retryBudget: false, retryThrottling: { maxTokens: 10, tokenRatio: 0.1 } });
    assert.ok(
      throttled.extra <= 5,
      `the throttle closes after a few failures: ${throttled.extra} extra attempts`,
    );
    assert.ok(throttled.stats.refused.throttle > 0);
    // retryPolicy draws on the same budget.
    const retries = await run({
      hedgingPolicy: undefined,
      retryPolicy: { maxAttempts: 5, retryableCodes: [Code.Unavailable], initialBackoffMs: 1 },
      retryBudget: { ratio: 0.2, minRetriesPerSecond: 0 },
    });
    assert.ok(
      retries.extra <= 0.2 * retries.calls,
      `retries ${retries.extra} within 20 % of ${retries.calls}`,
    );
    assert.equal(retries.stats.policy, retries.extra);
    assert.ok(retries.stats.refused.budget > 0);
    // Neither: every call makes maxAttempts attempts.
    const unlimited = await run({ retryBudget: false });
    assert.equal(unlimited.extra, 4 * unlimited.calls, "without limits, 5 attempts per call");
  });
});
