import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import { after, before, describe, it } from "node:test";
import { EmbeddedDnsServer } from "@rngbalance/local-fleet";

describe("EmbeddedDnsServer, queried by Node's real resolver (c-ares)", () => {
  let server: EmbeddedDnsServer;
  let resolver: dns.promises.Resolver;
  before(async () => {
    server = await EmbeddedDnsServer.start();
    resolver = new dns.promises.Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([server.address]);
  });
  after(() => server.close());

  const code = (p: Promise<unknown>) =>
    p.then(
      () => "resolved",
      (e: NodeJS.ErrnoException) => e.code,
    );

  it("answers A and AAAA with their TTL, case-insensitively", async () => {
    server.setRecords("rng-headless", { a: ["127.0.0.2", "127.0.0.3"], aaaa: ["::1"], ttl: 7 });
    assert.deepEqual(await resolver.resolve4("RNG-Headless.", { ttl: true }), [
      { address: "127.0.0.2", ttl: 7 },
      { address: "127.0.0.3", ttl: 7 },
    ]);
    assert.deepEqual(await resolver.resolve6("rng-headless", { ttl: true }), [{ address: "::1", ttl: 7 }]);
  });

  it("follows added and removed addresses from the next query on", async () => {
    server.setRecords("svc", { a: ["127.0.0.2"] });
    server.addAddress("svc", "127.0.0.3");
    server.addAddress("svc", "fd00::1");
    assert.deepEqual((await resolver.resolve4("svc")).sort(), ["127.0.0.2", "127.0.0.3"]);
    assert.deepEqual(await resolver.resolve6("svc"), ["fd00::1"]);
    server.removeAddress("svc", "127.0.0.2");
    assert.deepEqual(await resolver.resolve4("svc"), ["127.0.0.3"]);
    server.deleteName("svc");
    assert.equal(await code(resolver.resolve4("svc")), "ENOTFOUND");
  });

  it("fails on demand: NXDOMAIN, SERVFAIL, empty (NODATA) and no answer", async () => {
    server.setRecords("flaky", { a: ["127.0.0.2"] });
    const expected = {
      nxdomain: "ENOTFOUND",
      servfail: "ESERVFAIL",
      empty: "ENODATA",
      drop: "ETIMEOUT",
    } as const;
    for (const [mode, errorCode] of Object.entries(expected)) {
      server.failWith("flaky", mode as keyof typeof expected);
      assert.equal(await code(resolver.resolve4("flaky")), errorCode, mode);
    }
    server.failWith("flaky", undefined);
    assert.deepEqual(await resolver.resolve4("flaky"), ["127.0.0.2"]);
    assert.equal(await code(resolver.resolve4("unknown-name")), "ENOTFOUND");
  });

  it("sends a 500-record answer truncated over UDP and complete over TCP", async () => {
    const a = Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);
    server.setRecords("big", { a });
    const before = server.queryCount("big");
    assert.deepEqual(new Set(await resolver.resolve4("big")), new Set(a));
    // One UDP query came back truncated, so c-ares asked again over TCP.
    assert.equal(server.queryCount("big") - before, 2);
  });

  it("answers SRV with the targets' addresses", async () => {
    server.setRecords("node-a", { a: ["127.0.0.6"] });
    server.setRecords("_grpc._tcp.rng", { srv: [{ port: 9001, target: "node-a", priority: 1, weight: 5 }] });
    assert.deepEqual(await resolver.resolveSrv("_grpc._tcp.rng"), [
      { name: "node-a", port: 9001, priority: 1, weight: 5 },
    ]);
  });

  it("ignores malformed packets and keeps answering", async () => {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) =>
      socket.send(Buffer.from([1, 2, 3]), server.port, server.host, () => resolve()),
    );
    await new Promise<void>((resolve) =>
      socket.send(Buffer.alloc(40, 0xff), server.port, server.host, () => resolve()),
    );
    socket.close();
    server.setRecords("alive", { a: ["127.0.0.9"] });
    assert.deepEqual(await resolver.resolve4("alive"), ["127.0.0.9"]);
  });
});
