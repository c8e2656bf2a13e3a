import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { ConnectivityState, type PoolTransport } from "@rngbalance/dns-pool";
import { FakeResolver } from "@rngbalance/dns-pool/testing";
import { type RngServerProcess, spawnRngPods, spawnRngServer } from "@rngbalance/rng-fleet";
import { type Load, readyPool, startLoad, until } from "./support.js";

// Real rng-server processes on loopback pod IPs, loaded by a real pool. The
// machine is shared and slow at times: every check is a share with a wide
// margin, never a timing.

/** Share of answers from `rn` among answers in [from, to). */
function share(load: Load, rn: bigint, from: number, to: number): number {
  const window = load.answers.filter((a) => a.at >= from && a.at < to);
  return window.length === 0 ? 0 : window.filter((a) => a.rn === rn).length / window.length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("latency-aware balancing over real servers", () => {
  const servers: RngServerProcess[] = [];
  const pools: PoolTransport[] = [];
  const spawn = async (host: string, port: number, args: string[] = []) => {
    const s = await spawnRngServer({ host, port, args });
    servers.push(s);
    return s;
  };
  /** Pods on `hosts`, all on one port (as a headless Service). */
  const spawnPods = async (hosts: string[], args?: (i: number) => string[]) => {
    const started = await spawnRngPods({ hosts, ...(args ? { args } : {}) });
    servers.push(...started.pods);
    return started;
  };
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("peak_ewma moves calls off a pod 50 ms slow, and back once it answers fast again", async () => {
    const hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
    const { port, pods } = await spawnPods(hosts, (i) => (i === 3 ? ["--fault", "latency:50ms"] : []));
    const fast = pods.slice(0, 3);
    let slow = pods[3]!;
    const pool = await readyPool(
      pools,
      {
        target: `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`,
        policy: "peak_ewma",
        // A 1 s time constant, so that recovery shows within seconds (default 10 s).
        peakEwma: { decayMs: 1000 },
        reconnectBackoff: { initialMs: 100, maxMs: 500 },
        outlierDetection: false,
      },
      4,
    );
    const load = startLoad(pool, { concurrency: 8, ratePerSecond: 400 });
    try {
      await sleep(1000);
      const t0 = Date.now();
      await sleep(2000);
      const slowShare = share(load, slow.rn, t0, Date.now());
      assert.ok(slowShare < 0.05, `the slow pod gets under 5 % (a fair share is 25 %): ${slowShare}`);
      // The pod is replaced by a healthy one at the same address (a restart that fixed it).
      await slow.stop();
      servers.splice(servers.indexOf(slow), 1);
      slow = await spawn(hosts[3]!, port);
      await until(
        () => pool.stats().endpoints.every((e) => e.state === ConnectivityState.READY),
        10_000,
        "reconnected",
      );
      // Its old EWMA decays with a 1 s time constant; when it is back
      // depends on how loaded the machine is, so look at 1 s windows for up
      // to 10 s rather than at one fixed window.
      const shares: number[] = [];
      for (let i = 0; i < 10 && !(shares.at(-1)! > 0.1); i++) {
        const t1 = Date.now();
        await sleep(1000);
        shares.push(share(load, slow.rn, t1, Date.now()));
      }
      assert.ok(shares.at(-1)! > 0.1, `back to a real share (fair: 25 %) within 10 s: ${shares.join(", ")}`);
      assert.equal(load.failures.length, 0, `no call failed: ${load.failures[0]?.error.message}`);
    } finally {
      await load.stop();
      for (const s of fast) assert.ok(share(load, s.rn, 0, Date.now()) > 0.15, "fast pods carry the load");
    }
  });

  it("slow start ramps a new pod's share up over the window (round_robin), none without it", async () => {
    const hosts = ["127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9"];
    const { port, pods } = await spawnPods(hosts);
    const results: Record<string, number[]> = {};
    for (const [name, slowStart] of [
      ["on", { windowMs: 4000 }],
      ["off", false],
    ] as const) {
      const resolver = new FakeResolver();
      resolver.push(hosts.slice(0, 3).map((h) => `${h}:${port}`));
      const pool = await readyPool(pools, { slowStart }, 3, resolver);
      const load = startLoad(pool, { concurrency: 4, ratePerSecond: 300 });
      await sleep(500);
      resolver.push(hosts.map((h) => `${h}:${port}`));
      await until(() => pool.stats().endpoints.every((e) => e.state === "READY"), 10_000, "new pod READY");
      const t0 = Date.now();
      await sleep(4000);
      await load.stop();
      // The new pod's share in four one-second windows after it became READY.
      results[name] = [0, 1, 2, 3].map((i) => share(load, pods[3]!.rn, t0 + i * 1000, t0 + (i + 1) * 1000));
    }
    const [first, , , last] = results.on!;
    assert.ok(first! < 0.15, `first second with slow start: low (fair 25 %): ${results.on}`);
    assert.ok(last! > first!, `rises over the window: ${results.on}`);
    assert.ok(results.off![0]! > 0.18, `without slow start a full share at once: ${results.off}`);
  });

  it("weighted_round_robin reads real ORCA reports and shifts calls off a CPU-loaded pod", async () => {
    const hosts = ["127.0.0.10", "127.0.0.11", "127.0.0.12", "127.0.0.13"];
    // "on-request" servers: they report only because the policy asks (endpoint-load-metrics-format).
    const orca = ["--orca", "on-request", "--orca-interval-ms", "200"];
    const { port, pods } = await spawnPods(hosts, (i) => (i === 3 ? [...orca, "--fault", "cpu:4ms"] : orca));
    const loaded = pods[3]!;
    const pool = await readyPool(
      pools,
      {
        target: `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`,
        policy: "weighted_round_robin",
        weightedRoundRobin: { blackoutPeriodMs: 500, weightUpdatePeriodMs: 200 },
        outlierDetection: false,
      },
      4,
    );
    const load = startLoad(pool, { concurrency: 8, ratePerSecond: 300 });
    try {
      await sleep(2000);
      const t0 = Date.now();
      await sleep(2000);
      const loadedShare = share(load, loaded.rn, t0, Date.now());
      assert.ok(loadedShare < 0.15, `the CPU-loaded pod gets well under its 25 %: ${loadedShare}`);
      assert.equal(load.failures.length, 0);
    } finally {
      await load.stop();
    }
  });

  it("weighted_round_robin without reports (servers not reporting) is round robin", async () => {
    const hosts = ["127.0.0.14", "127.0.0.15", "127.0.0.16"];
    const { port, pods } = await spawnPods(hosts);
    const pool = await readyPool(
      pools,
      {
        target: `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`,
        policy: "weighted_round_robin",
        weightedRoundRobin: { blackoutPeriodMs: 0, weightUpdatePeriodMs: 100 },
      },
      3,
    );
    const load = startLoad(pool, { concurrency: 3, ratePerSecond: 300 });
    await sleep(1500);
    await load.stop();
    for (const p of pods) {
      const s = share(load, p.rn, 0, Date.now());
      assert.ok(Math.abs(s - 1 / 3) < 0.05, `an even third each: ${s}`);
    }
  });
});
