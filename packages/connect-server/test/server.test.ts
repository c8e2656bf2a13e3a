import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import { describe, it } from "node:test";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@rngbalance/grpc-protos";
import { Rng } from "@rngbalance/proto";
import {
  type Connection,
  ConnectionTable,
  createJsonLogger,
  HeldRequestBytes,
  limitJsonBody,
  startConnectServer,
} from "../src/index.js";

const quiet = createJsonLogger({ write: () => {} });

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

async function* bytes(...parts: Uint8Array[]): AsyncIterable<Uint8Array> {
  yield* parts;
}

async function drainBody(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.length;
  return n;
}

describe("limitJsonBody", () => {
  const limits = { readMaxBytes: 64, maxDepth: 3 };
  it("passes JSON within the limits, across chunk boundaries and strings with brackets", async () => {
    const body = chunks('{"a":[[', '1]],"s":"[[[[\\"[["', "}");
    assert.equal(await drainBody(limitJsonBody(body, "body", limits, undefined)), 26);
  });
  it("refuses nesting deeper than maxDepth with INVALID_ARGUMENT", async () => {
    await assert.rejects(
      drainBody(limitJsonBody(chunks("[[[", "["), "body", limits, undefined)),
      (e) => e instanceof ConnectError && e.code === Code.InvalidArgument && /deeper than 3/.test(e.message),
    );
  });
  it("refuses a body over the limit with RESOURCE_EXHAUSTED, before reading it when Content-Length says so", async () => {
    let read = false;
    const body = (async function* () {
      read = true;
      yield Buffer.alloc(1);
    })();
    await assert.rejects(drainBody(limitJsonBody(body, "body", limits, "65")), (e) => {
      return e instanceof ConnectError && e.code === Code.ResourceExhausted;
    });
    assert.equal(read, false);
    await assert.rejects(
      drainBody(limitJsonBody(chunks("x".repeat(65)), "body", limits, undefined)),
      /JSON limit of 64/,
    );
  });
  it("applies the limits per message in enveloped streams, and skips compressed payloads", async () => {
    const envelope = (flags: number, json: string) => {
      const b = Buffer.alloc(5 + json.length);
      b[0] = flags;
      b.writeUInt32BE(json.length, 1);
      b.write(json, 5);
      return b;
    };
    const ok = [envelope(0, "[[1]]"), envelope(0, "[[2]]"), envelope(1, "[[[[[[[[")];
    const body = (async function* () {
      for (const b of ok) for (const byte of b) yield Buffer.from([byte]); // one byte at a time
    })();
    assert.equal(await drainBody(limitJsonBody(body, "enveloped", limits, undefined)), 33);
    await assert.rejects(
      drainBody(
        limitJsonBody(chunks(envelope(0, "[[[[]]]]").toString("latin1")), "enveloped", limits, undefined),
      ),
      /deeper than 3/,
    );
  });
});

describe("startConnectServer", () => {
  it("serves the routes with health for each service, and drains with an idle socket open", async () => {
    const server = await startConnectServer({
      host: "127.0.0.1",
      port: 0,
      logger: quiet,
      drainTimeoutMs: 500,
      services: [Rng],
      routes: (router) => router.service(Rng, { rng: () => ({ RN: 7n }) }),
    });
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.address.port}` });
    assert.equal((await createClient(Rng, transport).rng({})).RN, 7n);
    const health = createClient(Health, transport);
    for (const service of ["", "rng.Rng"]) {
      assert.equal((await health.check({ service })).status, ServingStatus.SERVING);
    }
    // An unknown method names what is served.
    await assert.rejects(
      createClient(
        Health,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.address.port}/nope` }),
      ).check({}),
      (e) =>
        e instanceof ConnectError &&
        e.code === Code.Unimplemented &&
        /serves \/grpc\.health\.v1\.Health\/\*/.test(e.message),
    );
    const silent = net.connect({ host: "127.0.0.1", port: server.address.port });
    await once(silent, "connect");
    silent.resume();
    const silentClosed = once(silent, "close");
    const started = Date.now();
    await server.drain();
    assert.ok(Date.now() - started < 500, "a silent socket does not hold the drain up");
    assert.equal(server.health.getStatus(""), ServingStatus.NOT_SERVING);
    await silentClosed;
  });
});

describe("limitJsonBody on compressed bodies", () => {
  const limits = { readMaxBytes: 64 * 1024, maxDepth: 10 };
  it("scans what gzip and brotli decompress to, and stops a bomb at the limit", async () => {
    const nested = Buffer.from(`${"[".repeat(1000)}${"]".repeat(1000)}`);
    for (const [name, compress] of [
      ["gzip", gzipSync],
      ["br", brotliCompressSync],
    ] as const) {
      await assert.rejects(
        drainBody(limitJsonBody(bytes(compress(nested)), "body", limits, undefined, name)),
        /deeper than 10/,
      );
      const big = compress(Buffer.from(`"${"x".repeat(1024 * 1024)}"`));
      await assert.rejects(
        drainBody(limitJsonBody(bytes(big), "body", limits, String(big.length), name)),
        (e) => e instanceof ConnectError && e.code === Code.ResourceExhausted,
      );
      const fine = compress(Buffer.from('{"a":[[1]]}'));
      assert.equal(await drainBody(limitJsonBody(bytes(fine), "body", limits, undefined, name)), fine.length);
    }
  });
  it("decompresses each compressed envelope of a stream on its own; bytes that fail to decompress pass on", async () => {
    const envelope = (flags: number, payload: Buffer) => {
      const b = Buffer.alloc(5 + payload.length);
      b[0] = flags;
      b.writeUInt32BE(payload.length, 1);
      payload.copy(b, 5);
      return b;
    };
    const ok = Buffer.concat([
      envelope(1, gzipSync("[[1]]")),
      envelope(0, Buffer.from("[2]")),
      envelope(1, Buffer.from("not gzip")),
    ]);
    const oneByteAtATime = async function* () {
      for (const byte of ok) yield Buffer.from([byte]);
    };
    assert.equal(
      await drainBody(limitJsonBody(oneByteAtATime(), "enveloped", limits, undefined, "gzip")),
      ok.length,
    );
    const deep = envelope(1, gzipSync("[".repeat(50)));
    await assert.rejects(
      drainBody(limitJsonBody(bytes(deep), "enveloped", limits, undefined, "gzip")),
      /deeper than 10/,
    );
  });
});

describe("HeldRequestBytes", () => {
  it("holds a unary body until it ends, and only the incomplete envelope of a stream", () => {
    const whole = new HeldRequestBytes(true);
    assert.equal(whole.push(Buffer.alloc(10)), 10);
    assert.equal(whole.push(Buffer.alloc(5)), 5);
    assert.equal(whole.release(), -15);
    const streamed = new HeldRequestBytes(false);
    const envelope = Buffer.alloc(5 + 300);
    envelope.writeUInt32BE(300, 1);
    // Split inside the prefix, then inside the payload, then the rest and half of the next.
    assert.equal(streamed.push(envelope.subarray(0, 3)), 3);
    assert.equal(streamed.push(envelope.subarray(3, 100)), 97);
    assert.equal(streamed.push(Buffer.concat([envelope.subarray(100), envelope.subarray(0, 50)])), -50);
    assert.equal(streamed.held, 50);
    assert.equal(streamed.release(), -50);
  });
});

describe("ConnectionTable", () => {
  /** Real loopback connections: the server side of each, as a listener accepts them. */
  async function connections(n: number) {
    const accepted: net.Socket[] = [];
    const server = net.createServer((s) => accepted.push(s));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as net.AddressInfo;
    const clients = await Promise.all(
      Array.from({ length: n }, async () => {
        const c = net.connect(port, "127.0.0.1");
        c.on("error", () => {});
        await once(c, "connect");
        return c;
      }),
    );
    while (accepted.length < n) await new Promise((r) => setTimeout(r, 5));
    return {
      accepted,
      close() {
        for (const c of clients) c.destroy();
        server.close();
      },
    };
  }
  const limits = {
    maxConnections: 3,
    maxConnectionsPerClient: 0,
    maxConnectionBufferBytes: 100,
    maxBufferBytes: 150,
  };

  it("at the cap closes the oldest idle connection for a newcomer, and refuses when none is idle", async () => {
    const c = await connections(5);
    const table = new ConnectionTable(limits, quiet);
    try {
      const [a, b, d, e, f] = c.accepted as [net.Socket, net.Socket, net.Socket, net.Socket, net.Socket];
      const ca = table.admit(a);
      const cb = table.admit(b);
      table.admit(d);
      assert.ok(ca && cb);
      cb.owner = { ...cb.owner, idle: () => false };
      assert.ok(table.admit(e), "room made");
      assert.equal(a.destroyed, true, "the oldest idle went");
      assert.equal(b.destroyed, false, "a busy one stays");
      for (const conn of [table.connectionOf(d), table.connectionOf(e)]) {
        if (conn) conn.owner = { ...conn.owner, idle: () => false };
      }
      assert.equal(table.admit(f), undefined, "every connection busy: refused");
      assert.equal(table.size, 3);
    } finally {
      table.stop();
      c.close();
    }
  });

  it("cuts a connection over its buffer limit, and the largest when the process is over its own", async () => {
    const c = await connections(3);
    const table = new ConnectionTable({ ...limits, maxConnections: 0 }, quiet);
    try {
      const cut: string[] = [];
      const [x, y, z] = c.accepted.map((s, i) => {
        const conn = table.admit(s);
        assert.ok(conn);
        conn.owner = { ...conn.owner, cut: (msg) => cut.push(`${i}: ${msg}`) };
        return conn;
      }) as [Connection, Connection, Connection];
      assert.equal(table.chargeRequest(x, 90), true);
      assert.equal(table.chargeRequest(x, 20), false);
      assert.match(cut[0] ?? "", /^0: .*--max-connection-buffer-bytes/);
      assert.equal(table.heldBytes, 0, "a cut connection's bytes no longer count");
      table.chargeRequest(y, 80);
      table.chargeRequest(z, 60);
      table.chargeRequest(z, 20);
      assert.match(cut[1] ?? "", /^1: .*--max-buffer-bytes/, "the largest (y, 80 bytes) is cut");
      assert.equal(table.heldBytes, 80);
    } finally {
      table.stop();
      c.close();
    }
  });
});
