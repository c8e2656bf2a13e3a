import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import * as net from "node:net";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as packet from "dns-packet";
import { EmbeddedDnsServer, type EmbeddedDnsServerOptions } from "../src/dns-server.js";

/** Runs `fn` against a server of its own on a free port, queried by Node's real resolver (c-ares). */
async function withServer(
  fn: (server: EmbeddedDnsServer, resolver: dns.promises.Resolver) => Promise<void>,
  options?: EmbeddedDnsServerOptions,
): Promise<void> {
  const server = await EmbeddedDnsServer.start(options);
  try {
    const resolver = new dns.promises.Resolver({ timeout: 500, tries: 1 });
    resolver.setServers([server.address]);
    await fn(server, resolver);
  } finally {
    await server.close();
  }
}

/**
 * SRV records as Node 22 gives them: Node 24 and later add `type: "SRV"` to
 * each record of resolveSrv (as resolveAny always did), which must then be
 * "SRV" and is dropped so one expectation serves every supported line.
 */
function srvFields(records: (dns.SrvRecord & { type?: string })[]): dns.SrvRecord[] {
  return records.map(({ type, ...record }) => {
    if (type !== undefined) assert.equal(type, "SRV");
    return record;
  });
}

/** The error code a resolution fails with, or "resolved". */
const code = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e: NodeJS.ErrnoException) => e.code,
  );

const query = (name: string, type: packet.RecordType, extra: packet.Packet = {}): Buffer =>
  packet.encode({
    type: "query",
    id: 4242,
    flags: packet.RECURSION_DESIRED,
    questions: [{ type, name }],
    ...extra,
  });

/** A decoded response, typed for the assertions here. */
interface Response {
  id: number;
  flag_tc: boolean;
  flag_aa: boolean;
  rcode: string;
  answers: DecodedRecord[];
  additionals: DecodedRecord[];
}
interface DecodedRecord {
  type: string;
  name: string;
  ttl: number | undefined;
  data: unknown;
}

function decode(message: Buffer): Response {
  const p = packet.decode(message) as packet.DecodedPacket & { rcode: string };
  const records = (list: packet.Answer[] = []): DecodedRecord[] =>
    list.map((a) => ({
      type: a.type,
      name: a.name,
      ttl: "ttl" in a ? a.ttl : undefined,
      data: "data" in a ? a.data : undefined,
    }));
  return {
    id: p.id ?? 0,
    flag_tc: p.flag_tc,
    flag_aa: p.flag_aa,
    rcode: p.rcode,
    answers: records(p.answers),
    additionals: records(p.additionals),
  };
}

/** Sends raw bytes over UDP and returns the raw response. */
async function udpExchange(server: EmbeddedDnsServer, message: Buffer, timeoutMs = 1000): Promise<Buffer> {
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no UDP response")), timeoutMs);
      socket.once("message", (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      socket.send(message, server.port, server.host);
    });
  } finally {
    socket.close();
  }
}

/** Frames a message for TCP: 2-byte length prefix. */
const frame = (message: Buffer) =>
  Buffer.concat([Buffer.from([message.length >> 8, message.length & 0xff]), message]);

/**
 * Sends `bytes` over one TCP connection in chunks of `chunkSize` bytes (to
 * exercise partial reads) and collects `expected` framed responses.
 */
async function tcpExchange(
  server: EmbeddedDnsServer,
  bytes: Buffer,
  expected: number,
  chunkSize = bytes.length,
): Promise<Response[]> {
  const socket = net.connect(server.port, server.host);
  socket.setNoDelay(true);
  try {
    return await new Promise<Response[]>((resolve, reject) => {
      const responses: Response[] = [];
      let pending = Buffer.alloc(0);
      socket.on("error", reject);
      socket.on("data", (chunk) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
          const length = pending.readUInt16BE(0);
          responses.push(decode(pending.subarray(2, 2 + length)));
          pending = pending.subarray(2 + length);
        }
        if (responses.length === expected) resolve(responses);
      });
      socket.on("connect", async () => {
        for (let i = 0; i < bytes.length; i += chunkSize) {
          socket.write(bytes.subarray(i, i + chunkSize));
          await new Promise((r) => setTimeout(r, 5));
        }
      });
    });
  } finally {
    socket.destroy();
  }
}

const fiveHundred = Array.from({ length: 500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`);

describe("EmbeddedDnsServer, queried by Node's real resolver (c-ares)", () => {
  it("answers A and AAAA with their TTL (default 1 s)", () =>
    withServer(async (server, resolver) => {
      server.setRecords("rng-headless", { a: ["127.0.0.2", "127.0.0.3"], aaaa: ["::1", "fd00::2"], ttl: 7 });
      assert.deepEqual(await resolver.resolve4("rng-headless", { ttl: true }), [
        { address: "127.0.0.2", ttl: 7 },
        { address: "127.0.0.3", ttl: 7 },
      ]);
      assert.deepEqual(await resolver.resolve6("rng-headless", { ttl: true }), [
        { address: "::1", ttl: 7 },
        { address: "fd00::2", ttl: 7 },
      ]);
      server.setRecords("default-ttl", { a: ["127.0.0.4"] });
      assert.deepEqual(await resolver.resolve4("default-ttl", { ttl: true }), [
        { address: "127.0.0.4", ttl: 1 },
      ]);
    }));

  it("sees added and removed addresses from the next query on", () =>
    withServer(async (server, resolver) => {
      server.addAddress("svc", "127.0.0.2"); // creates the name
      server.addAddress("svc", "127.0.0.3");
      server.addAddress("svc", "127.0.0.3"); // already there
      server.addAddress("svc", "fd00:0:0:0:0:0:0:1"); // AAAA, by syntax
      assert.deepEqual(await resolver.resolve4("svc"), ["127.0.0.2", "127.0.0.3"]);
      assert.deepEqual(await resolver.resolve6("svc"), ["fd00::1"]);
      server.removeAddress("svc", "127.0.0.2");
      assert.deepEqual(await resolver.resolve4("svc"), ["127.0.0.3"]);
      server.removeAddress("svc", "fd00::1");
      assert.equal(await code(resolver.resolve6("svc")), "ENODATA");
      server.addAddress("svc", "127.0.0.9");
      assert.deepEqual(await resolver.resolve4("svc"), ["127.0.0.3", "127.0.0.9"]);
      assert.throws(() => server.addAddress("svc", "not-an-ip"), TypeError);
    }));

  it("answers NXDOMAIN for an unknown or deleted name (ENOTFOUND)", () =>
    withServer(async (server, resolver) => {
      assert.equal(await code(resolver.resolve4("unknown-name")), "ENOTFOUND");
      server.setRecords("gone", { a: ["127.0.0.2"] });
      assert.deepEqual(await resolver.resolve4("gone"), ["127.0.0.2"]);
      server.deleteName("gone");
      assert.equal(await code(resolver.resolve4("gone")), "ENOTFOUND");
    }));

  it("answers NODATA for a known name without records of the type (ENODATA)", () =>
    withServer(async (server, resolver) => {
      server.setRecords("v4-only", { a: ["127.0.0.2"] });
      assert.equal(await code(resolver.resolve6("v4-only")), "ENODATA");
      assert.equal(await code(resolver.resolveSrv("v4-only")), "ENODATA");
    }));

  it('failWith "servfail" answers SERVFAIL (ESERVFAIL)', () =>
    withServer(async (server, resolver) => {
      server.setRecords("flaky", { a: ["127.0.0.2"] });
      server.failWith("flaky", "servfail");
      assert.equal(await code(resolver.resolve4("flaky")), "ESERVFAIL");
      server.failWith("flaky", undefined);
      assert.deepEqual(await resolver.resolve4("flaky"), ["127.0.0.2"]);
    }));

  it('failWith "nxdomain" answers NXDOMAIN for a name that exists (ENOTFOUND)', () =>
    withServer(async (server, resolver) => {
      server.setRecords("flaky", { a: ["127.0.0.2"] });
      server.failWith("flaky", "nxdomain");
      assert.equal(await code(resolver.resolve4("flaky")), "ENOTFOUND");
      server.failWith("flaky", undefined);
      assert.deepEqual(await resolver.resolve4("flaky"), ["127.0.0.2"]);
    }));

  it('failWith "empty" answers NOERROR without records (ENODATA)', () =>
    withServer(async (server, resolver) => {
      server.setRecords("flaky", { a: ["127.0.0.2"] });
      server.failWith("flaky", "empty");
      assert.equal(await code(resolver.resolve4("flaky")), "ENODATA");
      server.failWith("flaky", undefined);
      assert.deepEqual(await resolver.resolve4("flaky"), ["127.0.0.2"]);
    }));

  it('failWith "drop" never answers (ETIMEOUT) but counts the query', () =>
    withServer(async (server, resolver) => {
      server.setRecords("flaky", { a: ["127.0.0.2"] });
      server.failWith("flaky", "drop");
      assert.equal(await code(resolver.resolve4("flaky")), "ETIMEOUT");
      assert.equal(server.queryCount("flaky"), 1);
      server.failWith("flaky", undefined);
      assert.deepEqual(await resolver.resolve4("flaky"), ["127.0.0.2"]);
      assert.equal(server.queryCount("flaky"), 2);
      assert.equal(server.queryCount("other"), 0);
      assert.equal(server.queryCount(), 2);
    }));

  it("returns 500 A records complete: truncated (TC) over UDP, retried by c-ares over TCP", () =>
    withServer(async (server, resolver) => {
      server.setRecords("big", { a: fiveHundred, ttl: 30 });
      assert.deepEqual(await resolver.resolve4("big"), fiveHundred);
      // One UDP query came back truncated, so c-ares asked again over TCP.
      assert.equal(server.queryCount("big"), 2);
      // Node reports the TTL of the first 256 addresses only (a fixed array in cares_wrap).
      const withTtl = await resolver.resolve4("big", { ttl: true });
      assert.deepEqual(
        withTtl.map((r) => r.address),
        fiveHundred,
      );
      assert.deepEqual(withTtl[0], { address: fiveHundred[0], ttl: 30 });
    }));

  it("truncates UDP answers at 512 bytes, or at the EDNS0 payload size, keeping what fits", () =>
    withServer(async (server) => {
      server.setRecords("big", { a: fiveHundred });
      const classic = await udpExchange(server, query("big", "A"));
      assert.ok(classic.length <= 512, `${classic.length} bytes`);
      const decoded = decode(classic);
      assert.equal(decoded.id, 4242);
      assert.equal(decoded.flag_tc, true);
      assert.equal(decoded.rcode, "NOERROR");
      assert.ok(decoded.answers.length > 20 && decoded.answers.length < 500, `${decoded.answers.length}`);
      assert.deepEqual(
        decoded.answers.map((a) => a.data),
        fiveHundred.slice(0, decoded.answers.length),
      );

      const withEdns = query("big", "A", {
        additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096 } as packet.Answer],
      });
      const large = await udpExchange(server, withEdns);
      assert.ok(large.length > 512 && large.length <= 4096, `${large.length} bytes`);
      const decodedLarge = decode(large);
      assert.equal(decodedLarge.flag_tc, true);
      assert.ok(decodedLarge.answers.length > decoded.answers.length);
      assert.deepEqual(
        decodedLarge.additionals.map((a) => a.type),
        ["OPT"],
      );

      // A small answer is not truncated.
      server.setRecords("small", { a: fiveHundred.slice(0, 3) });
      const small = decode(await udpExchange(server, query("small", "A")));
      assert.equal(small.flag_tc, false);
      assert.equal(small.flag_aa, true);
      assert.equal(small.answers.length, 3);
    }));

  it("answers several queries per TCP connection, whatever the chunking, and always complete", () =>
    withServer(async (server) => {
      server.setRecords("big", { a: fiveHundred });
      server.setRecords("small", { aaaa: ["::1"] });
      const bytes = Buffer.concat([
        frame(query("big", "A")),
        frame(Buffer.from([1, 2, 3])), // malformed: ignored, the framing goes on
        frame(query("small", "AAAA")),
        frame(query("nope", "A")),
      ]);
      for (const chunkSize of [bytes.length, 7, 1]) {
        const [big, small, nope] = await tcpExchange(server, bytes, 3, chunkSize);
        assert.equal(big!.flag_tc, false);
        assert.equal(big!.answers.length, 500);
        assert.deepEqual(
          small!.answers.map((a) => a.data),
          ["::1"],
        );
        assert.equal(nope!.rcode, "NXDOMAIN");
      }
    }));

  it("compares names case-insensitively and ignores a trailing dot", () =>
    withServer(async (server, resolver) => {
      server.setRecords("Rng-Headless.Example.", { a: ["127.0.0.2"] });
      assert.deepEqual(await resolver.resolve4("rng-headless.example"), ["127.0.0.2"]);
      assert.deepEqual(await resolver.resolve4("RNG-HEADLESS.EXAMPLE."), ["127.0.0.2"]);
      server.addAddress("RNG-headless.example", "127.0.0.3");
      assert.deepEqual(await resolver.resolve4("rng-HEADLESS.example"), ["127.0.0.2", "127.0.0.3"]);
      assert.equal(server.queryCount("rng-headless.EXAMPLE."), 3);
    }));

  it("answers SRV, with the targets' A/AAAA in the additional section", () =>
    withServer(async (server, resolver) => {
      server.setRecords("node-a", { a: ["127.0.0.6"], aaaa: ["::1"] });
      server.setRecords("_grpc._tcp.rng", {
        srv: [
          { port: 9001, target: "node-a", priority: 1, weight: 5 },
          { port: 9002, target: "node-b" }, // unknown target: no glue
        ],
        ttl: 4,
      });
      assert.deepEqual(srvFields(await resolver.resolveSrv("_grpc._tcp.rng")), [
        { name: "node-a", port: 9001, priority: 1, weight: 5 },
        { name: "node-b", port: 9002, priority: 0, weight: 0 },
      ]);
      const raw = decode(await udpExchange(server, query("_grpc._tcp.rng", "SRV")));
      assert.deepEqual(
        raw.additionals.map((a) => [a.type, a.name, a.ttl, a.data]),
        [
          ["A", "node-a", 1, "127.0.0.6"],
          ["AAAA", "node-a", 1, "::1"],
        ],
      );
      assert.equal(raw.answers[0]?.ttl, 4);
    }));

  it("answers ANY with every record, and NOTIMP for types it does not serve", () =>
    withServer(async (server, resolver) => {
      server.setRecords("all", {
        a: ["127.0.0.2"],
        aaaa: ["::2"],
        srv: [{ port: 80, target: "all" }],
        ttl: 3,
      });
      const any = await resolver.resolveAny("all");
      assert.deepEqual(
        any.map((r) => r.type),
        ["A", "AAAA", "SRV"],
      );
      assert.deepEqual(any[0], { type: "A", address: "127.0.0.2", ttl: 3 });
      assert.equal(await code(resolver.resolveTxt("all")), "ENOTIMP");
      assert.equal(await code(resolver.resolveTxt("unknown")), "ENOTFOUND");
    }));

  it("answers names under the zone suffix from the short name's records", () =>
    withServer(
      async (server, resolver) => {
        server.setRecords("rng-headless", { a: ["127.0.0.2"] });
        server.setRecords("other.default.svc.cluster.local.", { a: ["127.0.0.3"] });
        assert.deepEqual(await resolver.resolve4("rng-headless"), ["127.0.0.2"]);
        assert.deepEqual(await resolver.resolve4("rng-headless.default.svc.cluster.local"), ["127.0.0.2"]);
        assert.deepEqual(await resolver.resolve4("other"), ["127.0.0.3"]);
        assert.equal(await code(resolver.resolve4("rng-headless.other.svc.cluster.local")), "ENOTFOUND");
        assert.equal(server.queryCount("rng-headless"), 2);
      },
      { zone: "Default.svc.cluster.local." },
    ));

  it("ignores malformed packets and keeps answering", () =>
    withServer(async (server, resolver) => {
      const socket = dgram.createSocket("udp4");
      const garbage = [
        Buffer.from([1, 2, 3]),
        Buffer.alloc(40, 0xff),
        Buffer.alloc(0),
        query("x", "A").subarray(0, 15), // cut inside the question
        packet.encode({ type: "response", id: 1, questions: [{ type: "A", name: "x" }] }), // not a query
        packet.encode({ type: "query", id: 1, questions: [] }), // no question
      ];
      for (const message of garbage) {
        await new Promise<void>((resolve) => socket.send(message, server.port, server.host, () => resolve()));
      }
      socket.close();
      server.setRecords("alive", { a: ["127.0.0.9"] });
      assert.deepEqual(await resolver.resolve4("alive"), ["127.0.0.9"]);
      assert.equal(server.queryCount(), 1);
    }));

  it("close() frees the port and closes open TCP connections", { timeout: 5_000 }, async () => {
    const server = await EmbeddedDnsServer.start();
    const client = net.connect(server.port, server.host);
    await new Promise((resolve) => client.once("connect", resolve));
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the server accept it
    const clientClosed = new Promise((resolve) => client.once("close", resolve));
    client.on("error", () => {});
    await server.close();
    await clientClosed;
    await server.close(); // idempotent
    // UDP and TCP on the same port bind again: nothing of the server holds them.
    const again = await EmbeddedDnsServer.start({ port: server.port });
    assert.equal(again.port, server.port);
    await again.close();
  });

  it("leaves nothing open after close(): a process using it exits by itself", {
    timeout: 20_000,
  }, async () => {
    // A child process starts a server, resolves over UDP and TCP, opens an idle TCP
    // connection, closes the server and returns from its script: it must exit.
    const source = new URL("../src/dns-server.ts", import.meta.url).href;
    const script = `
      import * as dns from "node:dns";
      import * as net from "node:net";
      const { EmbeddedDnsServer } = await import(${JSON.stringify(source)});
      const server = await EmbeddedDnsServer.start();
      server.setRecords("big", { a: Array.from({ length: 500 }, (_, i) => "10.1." + (i >> 8) + "." + (i & 255)) });
      const resolver = new dns.promises.Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([server.address]);
      const count = (await resolver.resolve4("big")).length;
      // An idle client connection too: close() must close the server's end.
      const idle = net.connect(server.port, server.host);
      idle.on("error", () => {});
      await new Promise((resolve) => idle.once("connect", resolve));
      await server.close();
      console.log("resolved " + count);
    `;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on("exit", (c, s) => resolve([c, s])),
    );
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit by itself:\n${output}`);
    assert.equal(exitCode, 0, output);
    assert.equal(output.trim(), "resolved 500");
  });
});
