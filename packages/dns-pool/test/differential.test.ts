/**
 * The fast unary gRPC path against connect-node's gRPC transport: the same
 * calls through two pools that differ only in `fastPath`, the results
 * compared field by field. Servers: a connect-node server for every status
 * code, metadata and error details; a raw HTTP/2 server for what a
 * well-behaved server never sends.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { HealthCheckRequestSchema } from "@rngbalance/grpc-protos";
import { RngService } from "@rngbalance/proto";
import { GenerateResponseSchema } from "@rngbalance/proto/rng/v1";

/** What a call came to, in comparable form. */
async function outcome(
  pool: PoolTransport,
  headers: Record<string, string>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
) {
  const client = createClient(RngService, pool);
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  try {
    const res = await client.generate(
      { delayMs: 0 },
      { headers, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t), ...options },
    );
    return {
      ok: { rn: res.rn, instance: res.instance },
      header: header?.get("x-h"),
      trailer: trailer?.get("x-t"),
    };
  } catch (e) {
    const err = ConnectError.from(e);
    return {
      code: Code[err.code],
      message: err.rawMessage,
      meta: err.metadata.get("x-meta"),
      details: err.findDetails(HealthCheckRequestSchema).map((d) => d.service),
    };
  }
}

describe("fast unary path = connect-node's gRPC transport", () => {
  let connectServer: http2.Http2Server;
  let rawServer: http2.Http2Server;
  const pools: PoolTransport[] = [];
  let fast: PoolTransport;
  let stock: PoolTransport;
  let rawFast: PoolTransport;
  let rawStock: PoolTransport;
  const listen = async (server: http2.Http2Server) => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.2", r));
    return `ipv4:127.0.0.2:${(server.address() as AddressInfo).port}`;
  };
  const pair = (target: string, extra: Partial<Parameters<typeof createPoolTransport>[0]> = {}) => {
    const make = (fastPath: boolean) => {
      const p = createPoolTransport({
        target,
        fastPath,
        healthCheck: false,
        transparentRetries: 0,
        outlierDetection: false,
        ...extra,
      });
      pools.push(p);
      return p;
    };
    return [make(true), make(false)] as const;
  };

  before(async () => {
    connectServer = http2.createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(RngService, {
            async generate(_req, ctx) {
              const want = ctx.requestHeader.get("x-outcome") ?? "ok";
              ctx.responseHeader.set("x-h", "1");
              ctx.responseTrailer.set("x-t", "2");
              if (want === "slow") await sleep(2000, undefined, { signal: ctx.signal });
              if (want.startsWith("code:")) {
                throw new ConnectError("boom: ü % \n end", Number(want.slice(5)), { "x-meta": "m" }, [
                  { desc: HealthCheckRequestSchema, value: { service: "detail" } },
                ]);
              }
              return { rn: 42n, instance: "x".repeat(Number(ctx.requestHeader.get("x-size") ?? "1")) };
            },
            async *generateStream() {},
          }),
      }),
    );
    rawServer = http2.createServer();
    rawServer.on("stream", (stream, headers) => rawAnswer(stream, String(headers["x-raw"] ?? "")));
    rawServer.on("session", (s) => s.on("error", () => {}));
    [fast, stock] = pair(await listen(connectServer));
    [rawFast, rawStock] = pair(await listen(rawServer));
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await new Promise((r) => connectServer.close(r));
    await new Promise((r) => rawServer.close(r));
  });

  it("a success: message, response header and trailer", async () => {
    const a = await outcome(fast, {});
    assert.deepEqual(a, await outcome(stock, {}));
    assert.deepEqual(a, { ok: { rn: 42n, instance: "x" }, header: "1", trailer: "2" });
  });

  for (let code = 1; code <= 16; code++) {
    it(`status ${Code[code]}: code, message, metadata and details`, async () => {
      const headers = { "x-outcome": `code:${code}` };
      const a = await outcome(fast, headers);
      assert.deepEqual(a, await outcome(stock, headers));
      assert.equal(a.code, Code[code]);
      assert.deepEqual(a.details, ["detail"]);
    });
  }

  it("a deadline that passes: DEADLINE_EXCEEDED", async () => {
    const headers = { "x-outcome": "slow" };
    const a = await outcome(fast, headers, { timeoutMs: 100 });
    assert.deepEqual(a, await outcome(stock, headers, { timeoutMs: 100 }));
    assert.equal(a.code, "DeadlineExceeded");
  });

  it("cancellation through an AbortSignal: CANCELED", async () => {
    const headers = { "x-outcome": "slow" };
    const a = await outcome(fast, headers, { signal: AbortSignal.timeout(100) });
    const b = await outcome(stock, headers, { signal: AbortSignal.timeout(100) });
    assert.deepEqual(a, b);
    assert.equal(a.code, "Canceled");
  });

  it("a response over readMaxBytes: RESOURCE_EXHAUSTED", async () => {
    const [f, s] = pair(`ipv4:127.0.0.2:${(connectServer.address() as AddressInfo).port}`, {
      readMaxBytes: 100,
    });
    const headers = { "x-size": "1000" };
    const a = await outcome(f, headers);
    assert.deepEqual(a, await outcome(s, headers));
    assert.equal(a.code, "ResourceExhausted");
  });

  it("a request over writeMaxBytes: RESOURCE_EXHAUSTED before sending", async () => {
    const [f, s] = pair(`ipv4:127.0.0.2:${(connectServer.address() as AddressInfo).port}`, {
      writeMaxBytes: 1,
    });
    const call = (p: PoolTransport) =>
      createClient(RngService, p)
        .generate({ delayMs: 5 })
        .then(
          () => "ok",
          (e) => `${Code[ConnectError.from(e).code]}: ${ConnectError.from(e).rawMessage}`,
        );
    const a = await call(f);
    assert.equal(a, await call(s));
    assert.match(a, /^ResourceExhausted: message size 2 is larger than configured writeMaxBytes 1$/);
  });

  const rawCases: [string, string][] = [
    ["trailers-only error", "UNAVAILABLE"],
    ["HTTP 503 without gRPC status", "Unavailable"],
    ["HTTP 404", "Unimplemented"],
    ["a response without any status", "Internal"],
    ["two messages for a unary method", "Unimplemented"],
    ["a compressed message without grpc-encoding", "Internal"],
    // connect-node reports Node's stream error as INTERNAL; the pool retries it (never processed).
    ["a stream reset with REFUSED_STREAM", "Internal"],
    ["a server crash mid-call", "Unavailable"],
    // grpc-status in the headers only: connect's check looks at the trailers.
    ["an OK status without a message", "Unknown"],
    ["garbage instead of protobuf", "Internal"],
  ];
  for (const [what, expected] of rawCases) {
    it(`raw server: ${what}`, async () => {
      const headers = { "x-raw": what };
      const a = await outcome(rawFast, headers);
      const b = await outcome(rawStock, headers);
      assert.deepEqual(a, b);
      if ("code" in a) assert.equal(a.code?.toLowerCase(), expected.toLowerCase());
      else assert.fail(`expected ${expected}, got ${JSON.stringify(a)}`);
    });
  }
});

/** Answers like a misbehaving server, as `what` says. */
function rawAnswer(stream: http2.ServerHttp2Stream, what: string): void {
  stream.on("error", () => {});
  const grpc = { ":status": 200, "content-type": "application/grpc" };
  const message = (flags = 0) => {
    const body = toBinary(GenerateResponseSchema, create(GenerateResponseSchema, { rn: 1n }));
    const frame = Buffer.alloc(5 + body.length);
    frame[0] = flags;
    frame.writeUInt32BE(body.length, 1);
    Buffer.from(body).copy(frame, 5);
    return frame;
  };
  stream.resume();
  switch (what) {
    case "trailers-only error":
      stream.respond({ ...grpc, "grpc-status": "14", "grpc-message": "gone%20away" }, { endStream: true });
      return;
    case "HTTP 503 without gRPC status":
      stream.respond({ ":status": 503 }, { endStream: true });
      return;
    case "HTTP 404":
      stream.respond({ ":status": 404, "content-type": "text/plain" });
      stream.end("not found");
      return;
    case "a response without any status":
      stream.respond(grpc);
      stream.end(message());
      return;
    case "two messages for a unary method":
      stream.respond(grpc, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(Buffer.concat([message(), message()]));
      return;
    case "a compressed message without grpc-encoding":
      stream.respond(grpc, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(message(1));
      return;
    case "a stream reset with REFUSED_STREAM":
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    case "a server crash mid-call":
      stream.respond(grpc);
      setTimeout(() => stream.session?.destroy(), 20);
      return;
    case "an OK status without a message":
      stream.respond({ ...grpc, "grpc-status": "0" }, { endStream: true });
      return;
    case "garbage instead of protobuf": {
      stream.respond(grpc, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      // rn (field 1, varint) whose varint never ends.
      stream.end(Buffer.from([0, 0, 0, 0, 3, 0x08, 0xff, 0xff]));
      return;
    }
    default:
      stream.respond(
        { ...grpc, "grpc-status": "2", "grpc-message": "unknown raw case" },
        { endStream: true },
      );
  }
}
