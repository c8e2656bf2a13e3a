/**
 * Silent pods (issue #23): a SIGSTOPped server keeps its TCP connections
 * (the kernel still ACKs) but never answers. With default options and no
 * deadline, liveness must notice, fail only the calls stuck on it (as
 * UNAVAILABLE), keep the others flowing, and give the pod calls again soon
 * after it wakes up; while legitimately slow calls are never cut and
 * servers' ping enforcement never trips.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng, RngService } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer, startRngFleet } from "@rngbalance/rng-fleet";
import { until } from "./support.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CallRecord {
  readonly start: number;
  readonly end: number;
  readonly rn: bigint | undefined;
  readonly error: ConnectError | undefined;
}

/** `concurrency` workers calling `Rng` back to back with no deadline, until `stop()`. */
function closedLoop(transport: PoolTransport, concurrency: number) {
  const client = createClient(Rng, transport);
  const calls: CallRecord[] = [];
  let running = true;
  const worker = async () => {
    while (running) {
      const start = performance.now();
      try {
        const { RN } = await client.rng({});
        calls.push({ start, end: performance.now(), rn: RN, error: undefined });
      } catch (e) {
        calls.push({ start, end: performance.now(), rn: undefined, error: ConnectError.from(e) });
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    calls,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

function signal(server: RngServerProcess, sig: "SIGSTOP" | "SIGCONT"): void {
  const pid = server.child.pid;
  if (pid !== undefined && server.child.exitCode === null) process.kill(pid, sig);
}

describe("liveness: silent pods", () => {
  it("SIGSTOP of one of 5 pods under 64 calls in flight, no deadline, default options", async () => {
    const fleet = await startRngFleet({ replicas: 5 });
    const victim = fleet.servers[1] as RngServerProcess;
    const pool = createPoolTransport({ target: fleet.target });
    const load = closedLoop(pool, 64);
    let stopped = false;
    try {
      await until(() => load.calls.length > 2000, 15_000, "warm-up");
      const beforeFrom = performance.now();
      await sleep(1000);
      const stoppedAt = performance.now();
      const doneBefore = load.calls.filter((c) => c.end >= beforeFrom && c.end < stoppedAt).length;
      signal(victim, "SIGSTOP");
      stopped = true;
      await sleep(4000);
      const resumedAt = performance.now();
      signal(victim, "SIGCONT");
      stopped = false;
      const recoveryMs = await until(
        () => load.calls.some((c) => c.rn === victim.rn && c.start > resumedAt),
        5000,
        "the pod gets calls again",
      );
      await sleep(500);
      await load.stop();
      const fault = load.calls.filter((c) => c.end >= stoppedAt && c.end < resumedAt);
      const failed = load.calls.filter((c) => c.error !== undefined);
      const longest = Math.max(...load.calls.map((c) => c.end - c.start));
      const detectedAt = Math.min(...failed.map((c) => c.end));
      const rate = fault.length / 4000 / (doneBefore / 1000);
      console.log(
        `SIGSTOP 1 of 5, 64 in flight, no deadline: ${failed.length} failed (${[...new Set(failed.map((c) => Code[c.error!.code]))].join(", ") || "none"}), longest call ${Math.round(longest)} ms, detected after ${failed.length ? Math.round(detectedAt - stoppedAt) : "-"} ms, throughput during the fault ${rate.toFixed(2)}x, calls again ${recoveryMs} ms after SIGCONT`,
      );
      assert.ok(failed.length <= 20, `${failed.length} calls failed`);
      for (const c of failed) assert.equal(c.error?.code, Code.Unavailable, c.error?.message);
      assert.ok(longest < 3000, `a call took ${Math.round(longest)} ms`);
      assert.ok(recoveryMs < 3000, `the pod got calls again after ${recoveryMs} ms`);
    } finally {
      if (stopped) signal(victim, "SIGCONT");
      await load.stop();
      await pool.close();
      await fleet.close();
    }
  });

  it("a legitimately slow call is not cut, and slow calls in quiet periods never trip ping enforcement", async () => {
    // rng-server runs connect-server's ping enforcement with grpc-go's defaults (5 min, 2 strikes).
    const server = await spawnRngServer({ host: "127.0.0.2" });
    const pool = createPoolTransport({ target: `ipv4:${server.address}` });
    const lost: string[] = [];
    pool.on("endpointState", (e) => {
      if (e.previous === ConnectivityState.READY) lost.push(`${e.state}: ${e.error?.message}`);
    });
    try {
      const client = createClient(RngService, pool);
      await client.generate({}); // connected, and a response time on record
      const started = performance.now();
      const slow = client.generate({ delayMs: 4000 });
      // New calls, each as slow, while the server sends nothing: every quiet period gets its PINGs.
      const others: Promise<unknown>[] = [];
      for (let i = 0; i < 12; i++) {
        await sleep(300);
        others.push(client.generate({ delayMs: 2500 }));
      }
      await slow;
      const tookMs = performance.now() - started;
      await Promise.all(others);
      console.log(
        `a 4000 ms call took ${Math.round(tookMs)} ms; 12 slow calls in its quiet periods; connection kept`,
      );
      assert.ok(tookMs >= 4000);
      assert.deepEqual(
        lost,
        [],
        "the connection was never lost (no GOAWAY too_many_pings, no liveness kill)",
      );
      const warned = server.logs.filter((l) => /too many pings/.test(String(l.msg)));
      assert.deepEqual(warned, []);
    } finally {
      await pool.close();
      await server.stop();
    }
  });

  for (const protocol of ["grpc", "connect"] as const) {
    it(`calls cut by a keepalive timeout fail with UNAVAILABLE, not INTERNAL (${protocol === "grpc" ? "fast path" : "connect-node"})`, async () => {
      const server = await spawnRngServer({ host: "127.0.0.2" });
      const pool = createPoolTransport({
        target: `ipv4:${server.address}`,
        protocol,
        liveness: false,
        keepalive: { timeMs: 200, timeoutMs: 200 },
      });
      let stopped = false;
      try {
        const client = createClient(Rng, pool);
        await client.rng({});
        signal(server, "SIGSTOP");
        stopped = true;
        const err = await client.rng({}).then(
          () => assert.fail("answered by a stopped server"),
          (e: unknown) => ConnectError.from(e),
        );
        assert.equal(err.code, Code.Unavailable, err.message);
        assert.match(err.message, /keepalive ping to 127\.0\.0\.2:\d+ not answered within 200 ms/);
      } finally {
        if (stopped) signal(server, "SIGCONT");
        await pool.close();
        await server.stop();
      }
    });
  }

  it("a stopped pod's health watch stops counting as SERVING once liveness finds the connection dead", async () => {
    const server = await spawnRngServer({ host: "127.0.0.2" });
    const pool = createPoolTransport({ target: `ipv4:${server.address}` });
    let stopped = false;
    try {
      const client = createClient(Rng, pool);
      await client.rng({});
      assert.equal(pool.stats().endpoints[0]?.health, "SERVING");
      signal(server, "SIGSTOP");
      stopped = true;
      const started = performance.now();
      const err = await client.rng({}).then(
        () => assert.fail("answered by a stopped server"),
        (e: unknown) => ConnectError.from(e),
      );
      const detectedMs = performance.now() - started;
      assert.equal(err.code, Code.Unavailable, err.message);
      assert.match(err.message, /is silent: calls waited \d+ ms with nothing from the server/);
      // The session's "close" follows its streams' errors by a tick.
      await until(() => pool.stats().endpoints[0]?.health !== "SERVING", 200, "no longer SERVING");
      const endpoint = pool.stats().endpoints[0];
      assert.notEqual(endpoint?.state, ConnectivityState.READY);
      console.log(
        `a lone call on a stopped pod failed after ${Math.round(detectedMs)} ms; health ${endpoint?.health}`,
      );
      assert.ok(detectedMs < 2000, `detected after ${Math.round(detectedMs)} ms`);
      signal(server, "SIGCONT");
      stopped = false;
      const backMs = await until(
        () => pool.stats().endpoints[0]?.health === "SERVING",
        3000,
        "SERVING again",
      );
      await client.rng({});
      console.log(`SERVING again ${backMs} ms after SIGCONT`);
    } finally {
      if (stopped) signal(server, "SIGCONT");
      await pool.close();
      await server.stop();
    }
  });
});
