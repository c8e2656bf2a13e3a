/**
 * Chaos under steady load (200 calls/s, 8 in flight) through the pool, with
 * real server processes on loopback pod IPs and a real DNS server. Each
 * scenario asserts its bound and adds a row to the table printed at the end.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { type RngServerProcess, spawnRngServer, startRngFleet } from "@rngbalance/rng-fleet";
import { type Load, startLoad, until } from "./support.js";

const rows: { scenario: string; calls: number; failures: number; note: string }[] = [];
const report = (scenario: string, load: Load, note: string) =>
  rows.push({
    scenario,
    calls: load.answers.length + load.failures.length,
    failures: load.failures.length,
    note,
  });

after(() => {
  const lines = [
    "| scenario | calls | failed | note |",
    "| --- | ---: | ---: | --- |",
    ...rows.map((r) => `| ${r.scenario} | ${r.calls} | ${r.failures} | ${r.note} |`),
  ];
  for (const line of lines) console.log(line);
});

/** A pool with fast failure detection, as a test wants it; defaults otherwise. */
function chaosPool(
  target: string,
  extra: Partial<Parameters<typeof createPoolTransport>[0]> = {},
): PoolTransport {
  return createPoolTransport({ target, reconnectBackoff: { initialMs: 200, maxMs: 1000 }, ...extra });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("chaos under steady load", () => {
  it("rolling restart of every server: 0 failed calls", async () => {
    const fleet = await startRngFleet({ replicas: 3 });
    const pool = chaosPool(fleet.target);
    const load = startLoad(pool);
    try {
      await until(() => load.answers.length > 100, 5000, "warm-up");
      const originals = fleet.servers;
      for (const old of originals) {
        const fresh = await fleet.addServer(); // surge: the new pod first, at a new address
        await until(() => load.answers.some((a) => a.rn === fresh.rn), 5000, "new pod gets calls");
        assert.deepEqual(await fleet.removeServer(old), { code: 0, signal: null }); // DNS, then SIGTERM + drain
        await sleep(300);
      }
      const mark = load.answers.length;
      await until(() => load.answers.length > mark + 100, 5000, "load continues");
      await load.stop();
      const survivors = new Set(fleet.servers.map((s) => s.rn));
      assert.ok(
        load.answers.slice(-50).every((a) => survivors.has(a.rn)),
        "only new pods answer at the end",
      );
      report("rolling restart of 3 servers", load, `retries: ${JSON.stringify(pool.stats().retries)}`);
      assert.deepEqual(
        load.failures.map((f) => f.error.message),
        [],
      );
    } finally {
      await load.stop();
      await pool.close();
      await fleet.close();
    }
  });

  it("kill -9 of one server: at most the calls in flight on it fail, none after", async () => {
    const fleet = await startRngFleet({ replicas: 3 });
    const pool = chaosPool(fleet.target);
    const load = startLoad(pool);
    try {
      await until(() => load.answers.length > 100, 5000, "warm-up");
      const victim = fleet.servers[0] as RngServerProcess;
      const killedAt = Date.now();
      await fleet.removeServer(victim, { kill: true });
      await sleep(2000);
      await load.stop();
      const failed = load.failures.length;
      // 8 calls in flight over 3 servers: about 3 can be on the victim.
      assert.ok(failed <= 8, `${failed} calls failed`);
      const late = load.failures.filter((f) => f.at > killedAt + 1000);
      assert.deepEqual(
        late.map((f) => f.error.message),
        [],
        "no failures once the pool knows",
      );
      // A connection reset mid-call: UNAVAILABLE (or INTERNAL for an HTTP/2 stream error), never a hang.
      for (const f of load.failures) {
        assert.ok(
          [Code.Unavailable, Code.Internal].includes(f.error.code),
          `unexpected failure: ${f.error.message}`,
        );
      }
      report("kill -9 one of 3 servers", load, `${failed} failed (calls in flight on it)`);
    } finally {
      await load.stop();
      await pool.close();
      await fleet.close();
    }
  });

  it("a server reporting NOT_SERVING gets no calls (health checks)", async () => {
    const fleet = await startRngFleet({ replicas: 2 });
    const sick = await fleet.addServer(["--fault", "not-serving"]);
    const pool = chaosPool(fleet.target);
    const load = startLoad(pool);
    try {
      await sleep(1500);
      await load.stop();
      assert.equal(load.answers.filter((a) => a.rn === sick.rn).length, 0);
      assert.deepEqual(load.failures, []);
      const stats = pool.stats().endpoints.find((e) => e.address === sick.address);
      assert.equal(stats?.health, "NOT_SERVING");
      report("1 of 3 servers NOT_SERVING", load, "0 calls reached it");
    } finally {
      await load.stop();
      await pool.close();
      await fleet.close();
    }
  });

  it("a server failing every call with UNAVAILABLE is ejected; with a retry policy every call succeeds", async () => {
    const fleet = await startRngFleet({ replicas: 2 });
    const bad = await fleet.addServer(["--fault", "unavailable"]);
    const pool = chaosPool(fleet.target, {
      retryPolicy: { maxAttempts: 3, retryableCodes: [Code.Unavailable] },
      outlierDetection: { intervalMs: 500 },
    });
    const ejected: string[] = [];
    pool.on("ejection", (e) => e.ejected && ejected.push(e.address));
    const load = startLoad(pool);
    try {
      const tookMs = await until(() => ejected.includes(bad.address), 5000, "ejection");
      const mark = Date.now();
      await sleep(1000);
      await load.stop();
      assert.deepEqual(
        load.failures.map((f) => f.error.message),
        [],
      );
      const stats = pool.stats();
      assert.ok((stats.endpoints.find((e) => e.address === bad.address)?.ejectedForMs ?? 0) > 0);
      assert.ok(stats.retries.policy > 0, "the bad server's answers were retried elsewhere");
      assert.ok(load.answers.filter((a) => a.at > mark).every((a) => a.rn !== bad.rn));
      report(
        "1 of 3 servers UNAVAILABLE",
        load,
        `ejected after ${tookMs} ms; ${stats.retries.policy} retries`,
      );
    } finally {
      await load.stop();
      await pool.close();
      await fleet.close();
    }
  });

  it("DNS server down for 10 s: no failed calls", async () => {
    const fleet = await startRngFleet({ replicas: 3 });
    const pool = chaosPool(fleet.target, { dnsTimeoutMs: 200 });
    const errors: string[] = [];
    pool.on("resolutionError", (e) => errors.push(e.error.rawMessage));
    const load = startLoad(pool);
    try {
      await until(() => load.answers.length > 100, 5000, "warm-up");
      await fleet.dns.pause();
      await sleep(10_000);
      await fleet.dns.resume();
      await sleep(500);
      await load.stop();
      assert.ok(errors.length > 0, "the outage was noticed");
      assert.deepEqual(
        load.failures.map((f) => f.error.message),
        [],
      );
      assert.equal(new Set(load.answers.slice(-100).map((a) => a.rn)).size, 3);
      report("DNS server down 10 s", load, `${errors.length} resolution errors reported, pool kept 3 pods`);
    } finally {
      await load.stop();
      await pool.close();
      await fleet.close();
    }
  });

  it("every server down: calls fail fast with UNAVAILABLE naming the target; the pool recovers when they return", async () => {
    const fleet = await startRngFleet({ replicas: 2 });
    const pool = chaosPool(fleet.target);
    const load = startLoad(pool, { concurrency: 2, ratePerSecond: 100 });
    const restarted: RngServerProcess[] = [];
    try {
      await until(() => load.answers.length > 20, 5000, "warm-up");
      const servers = fleet.servers;
      // Crash both pods, DNS still lists them (as when pods crash-loop).
      await Promise.all(servers.map((s) => s.stop("SIGKILL")));
      await until(() => load.failures.length > 20, 5000, "failures");
      const sample = load.failures.at(-1)?.error;
      assert.equal(sample?.code, Code.Unavailable);
      assert.match(
        sample?.rawMessage ?? "",
        new RegExp(`no ready endpoint for target "${fleet.target.replaceAll(".", "\\.")}"`),
      );
      // Fail fast: no call waited for its 2 s timeout.
      const slowest = Math.max(
        ...load.failures.map((f, i, all) => (i > 0 ? f.at - (all[i - 1]?.at ?? f.at) : 0)),
      );
      assert.ok(slowest < 1000, `a failure took ${slowest} ms`);
      const backAt = Date.now();
      for (const s of servers) restarted.push(await spawnRngServer({ host: s.host, port: s.port }));
      const recoveryMs = await until(
        () => new Set(load.answers.filter((a) => a.at > backAt).map((a) => a.rn)).size === 2,
        10_000,
        "recovery",
      );
      await load.stop();
      report("all servers down, then back", load, `fail fast; recovered ${recoveryMs} ms after restart`);
    } finally {
      await load.stop();
      await pool.close();
      await Promise.all(restarted.map((s) => s.stop()));
      await fleet.close();
    }
  });
});
