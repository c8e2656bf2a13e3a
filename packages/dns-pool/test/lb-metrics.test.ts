import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, METRIC, type PoolTransport } from "@rngbalance/dns-pool";
import { RngService } from "@rngbalance/proto";
import { type Collected, collect, histograms, testMeter, total } from "@rngbalance/testkit/metrics";
import { until } from "./support.js";
import { type RngTestServer, startRngServer } from "./telemetry-support.js";

// gRFC A78 (weighted_round_robin, pick_first) and A91 (outlier detection)
// metrics, recorded by real pools calling real h2c servers on loopback.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects until `condition` holds on the collected metrics, or throws naming `what`. */
async function collectUntil(
  reader: Parameters<typeof collect>[0],
  condition: (m: Map<string, Collected>) => boolean,
  timeoutMs: number,
  what: string,
): Promise<Map<string, Collected>> {
  const started = Date.now();
  for (;;) {
    const m = await collect(reader);
    if (condition(m)) return m;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe("metrics: gRFC A78 (weighted_round_robin, pick_first) and A91 (outlier detection)", () => {
  const servers: RngTestServer[] = [];
  const pools: PoolTransport[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.close()));
  });
  const start = async (...args: Parameters<typeof startRngServer>) => {
    const s = await startRngServer(...args);
    servers.push(s);
    return s;
  };

  it("weighted_round_robin: fallback, not yet usable, weights, then stale (A78 grpc.lb.wrr.*)", async () => {
    let reporting = true;
    // qps 100 at cpu 0.5 and 0.25: weights 200 and 400 (A58: qps / utilization).
    const a = await start("127.0.0.30", {
      orca: () => (reporting ? { rpsFractional: 100, cpuUtilization: 0.5 } : undefined),
    });
    const b = await start("127.0.0.31", {
      orca: () => (reporting ? { rpsFractional: 100, cpuUtilization: 0.25 } : undefined),
    });
    const silent = await start("127.0.0.32");
    const target = `ipv4:${a.address},${b.address},${silent.address}`;
    const { provider, reader } = testMeter();
    const pool = createPoolTransport({
      target,
      policy: "weighted_round_robin",
      weightedRoundRobin: { blackoutPeriodMs: 300, weightUpdatePeriodMs: 100, weightExpirationPeriodMs: 800 },
      connect: "eager",
      healthCheck: false,
      outlierDetection: false,
      telemetry: { meterProvider: provider },
    });
    pools.push(pool);
    const client = createClient(RngService, pool);
    const labels = { "grpc.target": target };

    // The first scheduler update (made at the first pick): no endpoint has reported yet.
    await until(
      () => pool.stats().endpoints.every((e) => e.state === ConnectivityState.READY),
      5000,
      "READY",
    );
    await client.generate({ delayMs: 0 });
    const first = await collect(reader);
    assert.equal(total(first, METRIC.wrrRrFallback, labels), 1, "no usable weight: round robin");
    assert.equal(total(first, METRIC.wrrNotYetUsable, labels), 3, "three endpoints without a report");
    assert.equal(total(first, METRIC.wrrStale), 0);
    const [initial] = histograms(first, METRIC.wrrWeights, labels);
    assert.equal(initial?.count, 3, "one weight per endpoint per update");
    assert.equal(initial?.sum, 0, "unusable weights are recorded as 0");
    assert.equal(first.get(METRIC.wrrWeights)?.unit, "{weight}");
    assert.equal(first.get(METRIC.wrrRrFallback)?.unit, "{update}");
    assert.equal(first.get(METRIC.wrrNotYetUsable)?.unit, "{endpoint}");

    // Past the blackout period, two endpoints have usable weights; the silent one never does.
    const fallbackBefore = total(await collect(reader), METRIC.wrrRrFallback);
    const endAt = Date.now() + 700;
    while (Date.now() < endAt) {
      await client.generate({ delayMs: 0 });
      await sleep(5);
    }
    const weighted = await collect(reader);
    const [w] = histograms(weighted, METRIC.wrrWeights, labels);
    assert.equal(w?.max, 400, "the endpoint at cpu 0.25 weighs 400");
    assert.equal(w?.min, 0, "the silent endpoint weighs 0");
    const notYet = total(weighted, METRIC.wrrNotYetUsable, labels);
    const updates = (w?.count ?? 0) / 3;
    assert.ok(
      notYet > updates,
      `the silent endpoint is not yet usable at every update (${notYet} > ${updates})`,
    );
    assert.ok(
      total(weighted, METRIC.wrrRrFallback) < fallbackBefore + updates - 1,
      "updates with two usable weights do not fall back",
    );
    assert.equal(total(weighted, METRIC.wrrStale), 0, "no weight expired yet");

    // The servers stop reporting: past the expiration period their weights are stale.
    reporting = false;
    await sleep(900);
    const staleBefore = total(await collect(reader), METRIC.wrrRrFallback);
    await client.generate({ delayMs: 0 });
    const stale = await collect(reader);
    assert.equal(total(stale, METRIC.wrrStale, labels), 2, "both reporting endpoints went stale");
    assert.equal(stale.get(METRIC.wrrStale)?.unit, "{endpoint}");
    assert.equal(
      total(stale, METRIC.wrrRrFallback, labels),
      staleBefore + 1,
      "and the update falls back to RR",
    );
  });

  it("pick_first: a failed attempt, a success, a disconnection and a reconnection (A78 grpc.lb.pick_first.*)", async () => {
    const server = await start("127.0.0.34");
    // 127.0.0.1:1 refuses connections; it comes first in address order.
    const target = `ipv4:127.0.0.1:1,${server.address}`;
    const { provider, reader } = testMeter();
    const pool = createPoolTransport({
      target,
      policy: "pick_first",
      healthCheck: false,
      outlierDetection: false,
      reconnectBackoff: { initialMs: 60_000 },
      telemetry: { meterProvider: provider },
    });
    pools.push(pool);
    const client = createClient(RngService, pool);
    const labels = { "grpc.target": target };
    await client.generate({ delayMs: 0 });
    const m = await collect(reader);
    assert.equal(total(m, METRIC.pickFirstFailed, labels), 1, "the refused port");
    assert.equal(total(m, METRIC.pickFirstSucceeded, labels), 1, "the server");
    assert.equal(total(m, METRIC.pickFirstDisconnections), 0);
    assert.equal(m.get(METRIC.pickFirstFailed)?.unit, "{attempt}");

    // The server drops the selected connection; pick_first reconnects to it.
    server.dropConnections();
    const dropped = await collectUntil(
      reader,
      (c) => total(c, METRIC.pickFirstSucceeded) === 2,
      5000,
      "reconnected",
    );
    assert.equal(total(dropped, METRIC.pickFirstDisconnections, labels), 1);
    assert.equal(dropped.get(METRIC.pickFirstDisconnections)?.unit, "{disconnection}");
    assert.equal(total(dropped, METRIC.pickFirstFailed), 1, "the refused port is in backoff, not retried");
    await client.generate({ delayMs: 0 });

    // Closing the pool shuts the endpoint down: not a disconnection from pick_first's view.
    await pool.close();
    const closed = await collect(reader);
    assert.equal(total(closed, METRIC.pickFirstDisconnections), 1);
    assert.equal(total(closed, METRIC.disconnections, { "grpc.disconnect_error": "subchannel shutdown" }), 1);
  });

  /** Keeps calling through `pool` (failures ignored) until the returned stop() is awaited. */
  const keepCalling = (pool: PoolTransport) => {
    const client = createClient(RngService, pool);
    let running = true;
    const loop = (async () => {
      while (running) {
        await Promise.allSettled(Array.from({ length: 8 }, () => client.generate({ delayMs: 0 })));
        await sleep(5);
      }
    })();
    return async () => {
      running = false;
      await loop;
    };
  };
  const METHOD = "grpc.lb.outlier_detection.detection_method";
  const REASON = "grpc.lb.outlier_detection.unenforced_reason";

  it("outlier detection by failure percentage: one ejection enforced, the next over max_ejection_percent unenforced (A91)", async () => {
    const ok = [await start("127.0.0.35"), await start("127.0.0.36")];
    const bad = [
      await start("127.0.0.37", { unavailable: true }),
      await start("127.0.0.38", { unavailable: true }),
    ];
    const target = `ipv4:${[...ok, ...bad].map((s) => s.address).join(",")}`;
    const { provider, reader } = testMeter();
    const pool = createPoolTransport({
      target,
      connect: "eager",
      healthCheck: false,
      outlierDetection: {
        intervalMs: 200,
        // 1 of 4 ejected is 25%: the second outlier is over the limit (the first is always allowed).
        maxEjectionPercent: 10,
        failurePercentage: { threshold: 50, minimumHosts: 3, requestVolume: 5 },
        successRate: false,
      },
      telemetry: { meterProvider: provider },
    });
    pools.push(pool);
    const ejected: string[] = [];
    pool.on("ejection", (e) => e.ejected && ejected.push(e.address));
    const stop = keepCalling(pool);
    let m: Map<string, Collected>;
    try {
      m = await collectUntil(
        reader,
        (c) => total(c, METRIC.ejectionsUnenforced) > 0,
        10_000,
        "an unenforced ejection",
      );
    } finally {
      await stop();
    }
    const labels = { "grpc.target": target, [METHOD]: "failure_percentage" };
    assert.equal(total(m, METRIC.ejectionsEnforced, labels), 1, "one failing endpoint ejected");
    assert.deepEqual(ejected.length, 1);
    assert.ok(
      bad.some((s) => s.address === ejected[0]),
      "a failing one",
    );
    assert.equal(m.get(METRIC.ejectionsEnforced)?.unit, "{ejection}");
    const unenforced = m.get(METRIC.ejectionsUnenforced)?.points ?? [];
    assert.ok(unenforced.length > 0);
    for (const p of unenforced) {
      assert.deepEqual(p.attributes, { ...labels, [REASON]: "max_ejection_overflow" });
    }
    assert.equal(m.get(METRIC.ejectionsUnenforced)?.unit, "{ejection}");
    assert.equal(total(m, METRIC.ejectionsEnforced, { [METHOD]: "success_rate" }), 0);
  });

  it("outlier detection by success rate at enforcementPercentage 0: detected, never ejected (A91 unenforced_reason)", async () => {
    const ok = [await start("127.0.0.40"), await start("127.0.0.41"), await start("127.0.0.42")];
    const bad = await start("127.0.0.43", { unavailable: true });
    const target = `ipv4:${[...ok, bad].map((s) => s.address).join(",")}`;
    const { provider, reader } = testMeter();
    const pool = createPoolTransport({
      target,
      connect: "eager",
      healthCheck: false,
      outlierDetection: {
        intervalMs: 200,
        maxEjectionPercent: 100,
        // Success rates 1, 1, 1 and 0: mean 0.75, stdev 0.43; 0 is below 0.75 - 1 x 0.43.
        successRate: { stdevFactor: 1, minimumHosts: 3, requestVolume: 5, enforcementPercentage: 0 },
        failurePercentage: false,
      },
      telemetry: { meterProvider: provider },
    });
    pools.push(pool);
    const ejected: string[] = [];
    pool.on("ejection", (e) => ejected.push(e.address));
    const stop = keepCalling(pool);
    let m: Map<string, Collected>;
    try {
      m = await collectUntil(
        reader,
        (c) => total(c, METRIC.ejectionsUnenforced) >= 2,
        10_000,
        "two sweeps' outliers",
      );
    } finally {
      await stop();
    }
    const labels = { "grpc.target": target, [METHOD]: "success_rate" };
    assert.ok(total(m, METRIC.ejectionsUnenforced, { ...labels, [REASON]: "enforcement_percentage" }) >= 2);
    assert.equal(total(m, METRIC.ejectionsUnenforced, { [REASON]: "max_ejection_overflow" }), 0);
    assert.equal(total(m, METRIC.ejectionsEnforced), 0, "nothing enforced");
    assert.deepEqual(ejected, [], "and nothing ejected");
    assert.equal(pool.stats().endpoints.find((e) => e.address === bad.address)?.ejectedForMs, 0);
  });
});
