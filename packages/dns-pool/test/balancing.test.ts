import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng, RngService } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { childProcessEnv } from "@rngbalance/testkit";
import { countBy, freePort, readyPool } from "./support.js";

describe("pool over fixed addresses (ipv4:, passthrough)", () => {
  let servers: RngServerProcess[];
  let port: number;
  let target: string;
  const pools: PoolTransport[] = [];
  const pool = (options: Parameters<typeof createPoolTransport>[0]) => {
    const p = createPoolTransport(options);
    pools.push(p);
    return p;
  };

  before(async () => {
    port = await freePort();
    servers = await Promise.all(
      ["127.0.0.2", "127.0.0.3", "127.0.0.4"].map((host) => spawnRngServer({ host, port })),
    );
    target = `ipv4:${servers.map((s) => s.address).join(",")}`;
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  for (const protocol of ["grpc", "grpc-web", "connect"] as const) {
    it(`round_robin over ${protocol}: 300 calls spread exactly 100/100/100`, async () => {
      const client = createClient(Rng, await readyPool(pools, { target, protocol }, 3));
      const seen: bigint[] = [];
      for (let i = 0; i < 300; i++) seen.push((await client.rng({})).RN);
      assert.deepEqual(
        countBy(seen),
        new Map(servers.map((s) => [s.rn, 100])),
        "each instance answers exactly a third",
      );
    });
  }

  it("round_robin rotates strictly: every window of 3 calls hits 3 instances", async () => {
    const client = createClient(Rng, await readyPool(pools, { target }, 3));
    const seen: bigint[] = [];
    for (let i = 0; i < 30; i++) seen.push((await client.rng({})).RN);
    for (let i = 0; i + 3 <= seen.length; i++) assert.equal(new Set(seen.slice(i, i + 3)).size, 3);
  });

  it("round_robin starts at a random offset per client", async () => {
    const firsts = new Set<bigint>();
    for (let i = 0; i < 20; i++) firsts.add((await createClient(Rng, pool({ target })).rng({})).RN);
    assert.ok(firsts.size > 1, "20 clients all started on the same instance");
  });

  it("pick_first sends every call to one instance", async () => {
    const client = createClient(Rng, pool({ target, policy: "pick_first" }));
    const seen = new Set<bigint>();
    for (let i = 0; i < 50; i++) seen.add((await client.rng({})).RN);
    assert.deepEqual([...seen], [servers[0]?.rn]);
  });

  it("passthrough (a plain host:port target) is one connection to one instance", async () => {
    const p = pool({ target: `127.0.0.3:${port}` });
    const client = createClient(Rng, p);
    const seen = new Set<bigint>();
    for (let i = 0; i < 20; i++) seen.add((await client.rng({})).RN);
    assert.deepEqual([...seen], [servers[1]?.rn]);
    assert.equal(p.stats().endpoints.length, 1);
  });

  it("least_request prefers the endpoint with fewer calls in flight", async () => {
    const p = await readyPool(pools, { target, policy: "least_request" }, 3);
    const client = createClient(RngService, p);
    // Hold 20 slow calls; P2C keeps the in-flight counts within a few of each other.
    const slow = Array.from({ length: 30 }, () => client.generate({ delayMs: 400 }));
    await new Promise((r) => setTimeout(r, 100));
    const inFlight = p.stats().endpoints.map((e) => e.inFlight);
    assert.equal(
      inFlight.reduce((a, b) => a + b),
      30,
    );
    assert.ok(Math.max(...inFlight) - Math.min(...inFlight) <= 4, `in flight per endpoint: ${inFlight}`);
    await Promise.all(slow);
  });

  it("counts calls and failures per endpoint in stats()", async () => {
    const p = await readyPool(pools, { target }, 3);
    const client = createClient(RngService, p);
    for (let i = 0; i < 6; i++) await client.generate({});
    await assert.rejects(client.generate({ delayMs: 999_999 }));
    const s = p.stats();
    assert.equal(s.state, ConnectivityState.READY);
    assert.deepEqual(s.endpoints.map((e) => e.calls).sort(), [2, 2, 3]);
    assert.equal(
      s.endpoints.reduce((n, e) => n + e.failures, 0),
      1,
    );
    assert.ok(s.endpoints.every((e) => e.inFlight === 0));
  });

  it("emits pick events naming the address and procedure", async () => {
    const p = await readyPool(pools, { target }, 3);
    const picks: string[] = [];
    p.on("pick", (e) => picks.push(`${e.address} ${e.procedure}`));
    const client = createClient(Rng, p);
    for (let i = 0; i < 3; i++) await client.rng({});
    assert.deepEqual(
      picks.map((s) => s.split(" ")[1]),
      ["/rng.Rng/Rng", "/rng.Rng/Rng", "/rng.Rng/Rng"],
    );
    assert.deepEqual(new Set(picks.map((s) => s.split(" ")[0])), new Set(servers.map((s) => s.address)));
  });

  it("balances server-streaming calls and counts them in flight until the stream ends", async () => {
    const p = await readyPool(pools, { target }, 3);
    const client = createClient(RngService, p);
    const rns = new Set<bigint>();
    for (let i = 0; i < 3; i++) {
      for await (const m of client.generateStream({ count: 2 })) rns.add(m.rn);
    }
    assert.equal(rns.size, 3);
    assert.ok(p.stats().endpoints.every((e) => e.inFlight === 0 && e.calls === 1));
  });
});

describe("pool with no reachable endpoint", () => {
  it("fails fast with UNAVAILABLE naming the target and the connection error", async () => {
    const port = await freePort();
    const target = `ipv4:127.0.0.2:${port},127.0.0.3:${port}`;
    const p = createPoolTransport({ target });
    try {
      const client = createClient(Rng, p);
      const started = Date.now();
      const err = await client.rng({}).then(
        () => assert.fail("the call must fail"),
        (e: unknown) => ConnectError.from(e),
      );
      assert.equal(err.code, Code.Unavailable);
      assert.match(
        err.rawMessage,
        new RegExp(`no ready endpoint for target "${target}": 2 endpoints \\(2 TRANSIENT_FAILURE\\)`),
      );
      assert.match(err.rawMessage, /ECONNREFUSED 127\.0\.0\.[23]:\d+/);
      assert.ok(Date.now() - started < 2000, "fail fast, not a hang");
      // Later calls fail at once while the backoff runs.
      await assert.rejects(client.rng({}), (e) => ConnectError.from(e).code === Code.Unavailable);
    } finally {
      await p.close();
    }
  });

  it("with waitForReady, waits until the deadline, then DEADLINE_EXCEEDED with the reason", async () => {
    const port = await freePort();
    const p = createPoolTransport({ target: `ipv4:127.0.0.2:${port}`, waitForReady: true });
    try {
      const err = await createClient(Rng, p)
        .rng({}, { timeoutMs: 300 })
        .then(
          () => assert.fail("the call must fail"),
          (e: unknown) => ConnectError.from(e),
        );
      assert.equal(err.code, Code.DeadlineExceeded);
      assert.match(err.rawMessage, /waiting for a ready endpoint: no ready endpoint for target/);
    } finally {
      await p.close();
    }
  });

  it("with waitForReady, a call waiting for a server that starts later succeeds", async () => {
    const port = await freePort();
    const p = createPoolTransport({
      target: `ipv4:127.0.0.2:${port}`,
      waitForReady: true,
      reconnectBackoff: { initialMs: 100, maxMs: 200 },
    });
    let server: RngServerProcess | undefined;
    try {
      const call = createClient(Rng, p).rng({}, { timeoutMs: 8000 });
      await new Promise((r) => setTimeout(r, 300));
      server = await spawnRngServer({ host: "127.0.0.2", port });
      assert.equal((await call).RN, server.rn);
    } finally {
      await p.close();
      await server?.stop();
    }
  });

  it("a closed pool rejects calls with UNAVAILABLE", async () => {
    const p = createPoolTransport({ target: "ipv4:127.0.0.1:1" });
    await p.close();
    await assert.rejects(createClient(Rng, p).rng({}), (e) => {
      const err = ConnectError.from(e);
      return err.code === Code.Unavailable && /is closed/.test(err.rawMessage);
    });
  });
});

describe("pool lifecycle", () => {
  it("a process that used the pool exits by itself, with and without close()", async () => {
    const server = await spawnRngServer({ host: "127.0.0.2" });
    try {
      for (const closeIt of [true, false]) {
        const script = `
          import { createClient } from "@connectrpc/connect";
          import { createPoolTransport } from "@rngbalance/dns-pool";
          import { Rng } from "@rngbalance/proto";
          const pool = createPoolTransport({ target: "dns:///${server.address}", connect: "eager" });
          const client = createClient(Rng, pool);
          for (let i = 0; i < 5; i++) await client.rng({});
          ${closeIt ? "await pool.close();" : ""}
          console.log("done");
        `;
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
          cwd: new URL("..", import.meta.url),
          stdio: ["ignore", "pipe", "pipe"],
          // Not a test-runner child: its stdout is plain output.
          env: childProcessEnv(),
        });
        let out = "";
        child.stderr.on("data", (d) => {
          out += d;
        });
        child.stdout.on("data", (d) => {
          out += d;
        });
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        const [code, signal] = await once(child, "exit");
        clearTimeout(timer);
        assert.equal(out.trim(), "done", `exit ${code} ${signal}`);
        assert.deepEqual(
          { code, signal },
          { code: 0, signal: null },
          `close() ${closeIt}: the process must exit on its own`,
        );
      }
    } finally {
      await server.stop();
    }
  });
});
