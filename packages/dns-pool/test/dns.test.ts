import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  ConnectivityState,
  createPoolTransport,
  type PoolTransport,
  type ResolutionEvent,
} from "@rngbalance/dns-pool";
import { EmbeddedDnsServer } from "@rngbalance/dns-test-server";
import { Rng } from "@rngbalance/proto";
import { type RngFleet, startRngFleet } from "@rngbalance/rng-fleet";
import { countBy, startLoad, until } from "./support.js";

describe("pool over a real DNS server and real servers (dns://127.0.0.1:<port>/rng-headless)", () => {
  let fleet: RngFleet;
  const pools: PoolTransport[] = [];
  const pool = (options: Partial<Parameters<typeof createPoolTransport>[0]> = {}) => {
    const p = createPoolTransport({ target: fleet.target, ...options });
    pools.push(p);
    return p;
  };

  before(async () => {
    fleet = await startRngFleet({ replicas: 3, ttlSeconds: 1 });
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await fleet.close();
  });

  it("resolves rng-headless to the three pod IPs and rotates 100/100/100", async () => {
    const p = pool({ connect: "eager" });
    await until(
      () => p.stats().endpoints.filter((e) => e.state === ConnectivityState.READY).length === 3,
      5000,
      "3 READY",
    );
    assert.deepEqual(
      p.stats().endpoints.map((e) => e.address),
      fleet.servers.map((s) => s.address).sort(),
    );
    const client = createClient(Rng, p);
    const seen: bigint[] = [];
    for (let i = 0; i < 300; i++) seen.push((await client.rng({})).RN);
    assert.deepEqual(countBy(seen), new Map(fleet.servers.map((s) => [s.rn, 100])));
  });

  it("pick_first sends everything to one pod", async () => {
    const client = createClient(Rng, pool({ policy: "pick_first" }));
    const seen = new Set<bigint>();
    for (let i = 0; i < 30; i++) seen.add((await client.rng({})).RN);
    assert.equal(seen.size, 1);
  });

  it("scale up: a 4th pod gets calls within 2 s with TTL 1 s and default options", async () => {
    const p = pool();
    const load = startLoad(p, { concurrency: 1, ratePerSecond: 200 });
    await until(() => load.answers.length > 10, 5000, "first answers");
    const added = await fleet.addServer();
    const addedAt = Date.now();
    const tookMs = await until(
      () => load.answers.some((a) => a.rn === added.rn && a.at >= addedAt),
      5000,
      "new pod gets calls",
    );
    await load.stop();
    assert.ok(tookMs <= 2000, `new pod got its first call after ${tookMs} ms`);
    assert.deepEqual(load.failures, []);
    console.log(`scale-up pickup: ${tookMs} ms`);
  });

  it("scale down: remove a record, drain that server: no failed calls", async () => {
    const p = pool();
    const load = startLoad(p, { concurrency: 1, ratePerSecond: 1000 });
    await until(
      () => new Set(load.answers.map((a) => a.rn)).size === fleet.servers.length,
      5000,
      "all pods answer",
    );
    const victim = fleet.servers[0]!;
    const exit = await fleet.removeServer(victim); // DNS first, then SIGTERM + drain
    assert.deepEqual(exit, { code: 0, signal: null });
    const afterStop = load.answers.length;
    await until(() => load.answers.length > afterStop + 50, 5000, "more answers");
    await load.stop();
    assert.deepEqual(
      load.failures.map((f) => f.error.message),
      [],
    );
    assert.ok(
      !load.answers.slice(afterStop + 10).some((a) => a.rn === victim.rn),
      "no calls to the removed pod",
    );
  });

  it("keeps the last good addresses while DNS fails (NXDOMAIN, SERVFAIL, empty, no answer, server down)", async () => {
    const p = pool({ dnsTimeoutMs: 200 });
    const errors: string[] = [];
    p.on("resolutionError", (e) => errors.push(e.error.rawMessage));
    let resolutions = 0;
    p.on("resolution", () => resolutions++);
    const load = startLoad(p, { concurrency: 1, ratePerSecond: 200 });
    await until(
      () => new Set(load.answers.map((a) => a.rn)).size === fleet.servers.length,
      5000,
      "all pods answer",
    );
    const expected = new Set(fleet.servers.map((s) => s.rn));
    for (const mode of ["nxdomain", "servfail", "empty", "drop"] as const) {
      const before = errors.length;
      fleet.dns.failWith(fleet.name, mode);
      await until(() => errors.length > before, 5000, `a ${mode} resolution error`);
      const mark = load.answers.length;
      await until(() => load.answers.length > mark + 30, 5000, "calls keep flowing");
      assert.deepEqual(new Set(load.answers.slice(mark).map((a) => a.rn)), expected, `${mode}: same pods`);
      // DNS recovers: wait for a good resolution, which also resets the pool's backoff.
      const good = resolutions;
      fleet.dns.failWith(fleet.name, undefined);
      await until(() => resolutions > good, 10_000, "a good resolution again");
    }
    await load.stop();
    assert.deepEqual(load.failures, []);
    assert.equal(p.stats().endpoints.length, fleet.servers.length);
    const text = errors.join("\n");
    assert.match(text, /DNS name "rng-headless" does not exist \(NXDOMAIN from 127\.0\.0\.1:\d+\)/);
    assert.match(text, /failed to answer for "rng-headless" \(SERVFAIL\)/);
    assert.match(text, /has no A or AAAA records \(empty answer from/);
    assert.match(text, /did not answer for "rng-headless" within 200 ms/);
  });

  it("reports resolutions with added and removed addresses and the TTL", async () => {
    const p = pool({ connect: "eager" });
    const events: ResolutionEvent[] = [];
    p.on("resolution", (e) => events.push(e));
    await until(() => events.length > 0, 5000, "first resolution");
    assert.equal(events[0]?.ttlSeconds, 1);
    assert.deepEqual(events[0]?.added, fleet.servers.map((s) => s.address).sort());
  });

  it("sends :authority rng-headless:<port>, not the pod IP", async () => {
    const seen: string[] = [];
    const server = http2.createServer(
      connectNodeAdapter({ routes: (r) => r.service(Rng, { rng: () => ({ RN: 7n }) }) }),
    );
    server.on("stream", (_s, headers) => seen.push(String(headers[":authority"])));
    await new Promise<void>((r) => server.listen(0, "127.0.0.9", r));
    const port = (server.address() as AddressInfo).port;
    fleet.dns.setRecords("virtual-host", { a: ["127.0.0.9"], ttl: 1 });
    const p = pool({ target: `dns://${fleet.dns.address}/virtual-host:${port}` });
    assert.equal((await createClient(Rng, p).rng({})).RN, 7n);
    // The call and the health watch (which this server does not implement) both carry it.
    assert.ok(seen.length >= 1);
    assert.deepEqual(new Set(seen), new Set([`virtual-host:${port}`]));
    await p.close();
    await new Promise((r) => server.close(r));
  });
});

describe("DNS edge cases", () => {
  let dns: EmbeddedDnsServer;
  before(async () => {
    dns = await EmbeddedDnsServer.start();
  });
  after(() => dns.close());

  it("a 500-record answer (UDP truncated, retried over TCP) resolves to 500 addresses", async () => {
    const a = Array.from({ length: 500 }, (_, i) => `127.1.${Math.floor(i / 250)}.${1 + (i % 250)}`);
    dns.setRecords("big", { a, ttl: 30 });
    const p = createPoolTransport({ target: `dns://${dns.address}/big:8081` });
    try {
      const resolution = await new Promise<ResolutionEvent>((resolve) => p.on("resolution", resolve));
      assert.equal(resolution.addresses.length, 500);
      assert.deepEqual(new Set(resolution.addresses), new Set(a.map((ip) => `${ip}:8081`)));
    } finally {
      await p.close();
    }
  });

  it("a name that never resolves fails calls with UNAVAILABLE naming the DNS error", async () => {
    const p = createPoolTransport({ target: `dns://${dns.address}/nope.example:8081` });
    try {
      await new Promise((resolve) => p.on("resolutionError", resolve));
      await assert.rejects(createClient(Rng, p).rng({}), (e) => {
        const err = ConnectError.from(e);
        assert.equal(err.code, Code.Unavailable);
        assert.match(
          err.rawMessage,
          /^no ready endpoint for target "dns:\/\/127\.0\.0\.1:\d+\/nope\.example:8081": no addresses: DNS name "nope\.example" does not exist \(NXDOMAIN/,
        );
        return true;
      });
    } finally {
      await p.close();
    }
  });

  it("AAAA records are used too (IPv6 pods)", async () => {
    dns.setRecords("dual", { a: ["127.0.0.5"], aaaa: ["::1"], ttl: 5 });
    const p = createPoolTransport({ target: `dns://${dns.address}/dual:8081` });
    try {
      const resolution = await new Promise<ResolutionEvent>((resolve) => p.on("resolution", resolve));
      assert.deepEqual([...resolution.addresses].sort(), ["127.0.0.5:8081", "[::1]:8081"]);
      assert.equal(resolution.ttlSeconds, 5);
    } finally {
      await p.close();
    }
  });

  it("SRV records give the addresses and ports (srv: true)", async () => {
    dns.setRecords("node-a", { a: ["127.0.0.6"] });
    dns.setRecords("node-b", { a: ["127.0.0.7"] });
    dns.setRecords("_grpc._tcp.rng", {
      srv: [
        { port: 9001, target: "node-a" },
        { port: 9002, target: "node-b" },
      ],
      ttl: 3,
    });
    const p = createPoolTransport({ target: `dns://${dns.address}/_grpc._tcp.rng:1`, srv: true });
    try {
      const resolution = await new Promise<ResolutionEvent>((resolve) => p.on("resolution", resolve));
      assert.deepEqual([...resolution.addresses].sort(), ["127.0.0.6:9001", "127.0.0.7:9002"]);
    } finally {
      await p.close();
    }
  });

  it("re-resolves on the TTL, clamped by minResolveIntervalMs", async () => {
    dns.setRecords("ttl0", { a: ["127.0.0.8"], ttl: 0 });
    const before = dns.queryCount("ttl0");
    const p = createPoolTransport({ target: `dns://${dns.address}/ttl0:8081`, minResolveIntervalMs: 300 });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // A and AAAA per resolution; TTL 0 clamped to 300 ms: about 4 resolutions in 1 s, not hundreds.
      const resolutions = (dns.queryCount("ttl0") - before) / 2;
      assert.ok(resolutions >= 3 && resolutions <= 5, `${resolutions} resolutions in 1 s`);
    } finally {
      await p.close();
    }
  });
});
