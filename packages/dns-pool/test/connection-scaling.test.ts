import assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng, RngService } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { countBy, until } from "./support.js";

/** Each call holds its stream this long, so that streams pile up against the server's limit. */
const HOLD_MS = 300;

/** Runs `n` calls at once, each held `HOLD_MS` by the server: how long they took, and how each ended. */
async function burst(pool: PoolTransport, n: number) {
  const client = createClient(RngService, pool);
  const started = performance.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, () => client.generate({ delayMs: HOLD_MS }, { timeoutMs: 10_000 })),
  );
  const errors = outcomes.flatMap((o) => (o.status === "rejected" ? [ConnectError.from(o.reason)] : []));
  return { ms: performance.now() - started, errors };
}

describe("connection scaling (gRFC A105) against rng-server --max-concurrent-streams 10", () => {
  let server: RngServerProcess;
  before(async () => {
    server = await spawnRngServer({ host: "127.0.0.2", args: ["--max-concurrent-streams", "10"] });
  });
  after(() => server.stop());

  it("50 calls at once open 6 connections and finish in about one call's time; no REFUSED_STREAM, no queueing past a connection setup", async () => {
    const pool = createPoolTransport({
      target: `ipv4:${server.host}:${server.port}`,
      connect: "eager",
      maxConnectionsPerEndpoint: 10,
      extraConnectionIdleMs: 500,
    });
    try {
      await until(() => pool.stats().endpoints[0]?.connections === 1, 5000, "READY");
      const { ms, errors } = await burst(pool, 50);
      assert.deepEqual(errors, [], "every call succeeds");
      const endpoint = pool.stats().endpoints[0];
      // The health watch holds one of the first connection's 10 streams: 9 + 4 x 10 + 1.
      assert.equal(endpoint?.connectionsOpened, 6, "50 calls, 10 streams per connection, one a health watch");
      // One connection would take 5 rounds (5 x 300 ms); scaled, one round plus connection setups.
      assert.ok(ms < 2 * HOLD_MS, `took ${Math.round(ms)} ms`);
      // The extra connections close once idle; the first stays.
      await until(() => pool.stats().endpoints[0]?.connections === 1, 5000, "extras closed when idle");
      const again = await burst(pool, 19);
      assert.deepEqual(again.errors, []);
      assert.equal(pool.stats().endpoints[0]?.connectionsOpened, 7, "one more for the second burst (9 + 10)");
    } finally {
      await pool.close();
    }
  });

  it("the Connect fast path uses the chosen connection too: 50 calls, 6 connections, one round", async () => {
    const pool = createPoolTransport({
      target: `ipv4:${server.host}:${server.port}`,
      protocol: "connect",
      connect: "eager",
      maxConnectionsPerEndpoint: 10,
    });
    try {
      await until(() => pool.stats().endpoints[0]?.connections === 1, 5000, "READY");
      const { ms, errors } = await burst(pool, 50);
      assert.deepEqual(errors, []);
      assert.equal(pool.stats().endpoints[0]?.connectionsOpened, 6);
      assert.ok(ms < 2 * HOLD_MS, `took ${Math.round(ms)} ms`);
    } finally {
      await pool.close();
    }
  });

  it("without it (maxConnectionsPerEndpoint 1), the same calls queue in the one connection: five rounds", async () => {
    const pool = createPoolTransport({ target: `ipv4:${server.host}:${server.port}`, connect: "eager" });
    try {
      const { ms, errors } = await burst(pool, 50);
      assert.deepEqual(errors, [], "the calls wait in the connection, none refused");
      assert.equal(pool.stats().endpoints[0]?.connectionsOpened, 1);
      assert.ok(ms >= 5 * HOLD_MS * 0.95, `took ${Math.round(ms)} ms`);
    } finally {
      await pool.close();
    }
  });
});

describe("connection scaling while the server ages connections out with GOAWAY", () => {
  let server: RngServerProcess;
  before(async () => {
    server = await spawnRngServer({
      host: "127.0.0.7",
      args: ["--max-concurrent-streams", "10", "--max-connection-age-ms", "600"],
    });
  });
  after(() => server.stop());

  it("a GOAWAY takes out one connection, the others carry the calls: 30 in flight for 3 s, none fail", async (t) => {
    const pool = createPoolTransport({
      target: `ipv4:${server.host}:${server.port}`,
      connect: "eager",
      maxConnectionsPerEndpoint: 10,
    });
    let leftReady = 0;
    pool.on("endpointState", (e) => {
      if (e.previous === ConnectivityState.READY) leftReady++;
    });
    try {
      await until(() => pool.stats().endpoints[0]?.connections === 1, 5000, "READY");
      const client = createClient(RngService, pool);
      const errors: ConnectError[] = [];
      let calls = 0;
      const end = performance.now() + 3000;
      const worker = async () => {
        while (performance.now() < end) {
          try {
            await client.generate({ delayMs: 50 }, { timeoutMs: 5000 });
            calls++;
          } catch (e) {
            errors.push(ConnectError.from(e));
          }
        }
      };
      await Promise.all(Array.from({ length: 30 }, worker));
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
        "calls above a GOAWAY's last stream are retried transparently",
      );
      const opened = pool.stats().endpoints[0]?.connectionsOpened ?? 0;
      t.diagnostic(`${calls} calls, ${opened} connections opened, left READY ${leftReady} times`);
      assert.ok(opened >= 8, `connections opened: ${opened} (each lives 600 ms)`);
      assert.ok(calls > 500, `${calls} calls`);
      // One connection lost to GOAWAY leaves the endpoint READY while others remain.
      assert.ok(leftReady < opened / 2, `left READY ${leftReady} times for ${opened} connections`);
    } finally {
      await pool.close();
    }
  });
});

/** An L4 balancer in front of `backends`: each TCP connection goes to the next backend in turn. */
async function l4Balancer(backends: readonly { host: string; port: number }[]) {
  let next = 0;
  const accepted: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    accepted.push(`${client.remoteAddress}:${client.remotePort}`);
    const upstream = net.connect(backends[next++ % backends.length] as net.NetConnectOpts);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.3", resolve));
  return {
    address: `127.0.0.3:${(server.address() as net.AddressInfo).port}`,
    /** The client address of every TCP connection accepted. */
    accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

describe("minConnectionsPerEndpoint: one VIP address in front of three servers", () => {
  const servers: RngServerProcess[] = [];
  before(async () => {
    for (const host of ["127.0.0.4", "127.0.0.5", "127.0.0.6"]) servers.push(await spawnRngServer({ host }));
  });
  after(() => Promise.all(servers.map((s) => s.stop())));

  for (const min of [3, 1]) {
    it(`minConnectionsPerEndpoint ${min}: ${min} TCP connections reach the VIP and the calls spread over ${min} server(s)`, async () => {
      const vip = await l4Balancer(servers);
      let pool: PoolTransport | undefined;
      try {
        pool = createPoolTransport({
          target: `ipv4:${vip.address}`,
          connect: "eager",
          minConnectionsPerEndpoint: min,
        });
        const p = pool;
        await until(() => p.stats().endpoints[0]?.connections === min, 5000, `${min} connections`);
        const client = createClient(Rng, pool);
        // In waves of 6 at once, so that the streams spread by open streams.
        const answers: bigint[] = [];
        for (let wave = 0; wave < 10; wave++) {
          const rns = await Promise.all(Array.from({ length: 6 }, () => client.rng({})));
          answers.push(...rns.map((r) => r.RN));
        }
        assert.equal(vip.accepted.length, min, "the VIP saw that many TCP connections");
        assert.equal(new Set(vip.accepted).size, min, "from distinct client ports");
        const perServer = countBy(answers);
        assert.equal(perServer.size, min, `answered by ${perServer.size} servers`);
        for (const [rn, count] of perServer) {
          assert.equal(count, 60 / min, `server ${rn} answered ${count} of 60`);
        }
      } finally {
        await pool?.close();
        await vip.close();
      }
    });
  }
});

describe("connection scaling options", () => {
  it("bad values fail at construction with InvalidArgument", () => {
    assert.throws(
      () =>
        createPoolTransport({
          target: "ipv4:127.0.0.2:1",
          minConnectionsPerEndpoint: 4,
          maxConnectionsPerEndpoint: 2,
        }),
      (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument,
    );
  });
});
