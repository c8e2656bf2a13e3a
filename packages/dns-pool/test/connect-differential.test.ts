/**
 * The Connect fast path against connect-node's Connect transport: the same
 * calls through two pools that differ only in `fastPath`, the results
 * compared field by field (code, message, details, metadata, headers,
 * trailers, the message and its unknown fields). Servers: a stock
 * connect-node server (connectNodeAdapter) for every code with details,
 * deadlines, cancellation and limits; a raw node:http2 server for the
 * responses a well-behaved server never sends. Each case also asserts
 * which path served it, through `connectFastPathCalls`.
 */
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { brotliCompressSync, gzipSync } from "node:zlib";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  toBinary,
  toJsonString,
} from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { HealthCheckRequestSchema } from "@rngbalance/grpc-protos";
import { RngService } from "@rngbalance/proto";
import { GenerateResponseSchema } from "@rngbalance/proto/rng/v1";
import { collect, testMeter } from "@rngbalance/testkit/metrics";
import { connectFastPathCalls } from "../src/connection/connect-unary.js";
import { createPoolTransport, METRIC, type PoolTransport, type PoolTransportOptions } from "../src/index.js";

type CallOptions = { timeoutMs?: number; signal?: AbortSignal };

/** Headers as a sorted list, without `date`, which differs from call to call. */
function entries(h: Headers | undefined): [string, string][] | undefined {
  if (!h) return undefined;
  const out: [string, string][] = [];
  h.forEach((v, k) => {
    if (k !== "date") out.push([k, v]);
  });
  return out;
}

/** What a call came to, in comparable form, and which path served it. */
async function outcome(pool: PoolTransport, headers: Record<string, string>, options: CallOptions = {}) {
  const client = createClient(RngService, pool);
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  const before = connectFastPathCalls.started;
  const fast = () => connectFastPathCalls.started - before;
  try {
    const res = await client.generate(
      // A field set, so that the request has bytes (writeMaxBytes); the servers ignore it.
      { delayMs: 5 },
      { headers, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t), ...options },
    );
    return {
      fast: fast(),
      result: {
        ok: { rn: res.rn, instance: res.instance },
        // The message with its unknown fields, as bytes.
        bytes: Buffer.from(toBinary(GenerateResponseSchema, res)).toString("hex"),
        header: entries(header),
        trailer: entries(trailer),
      },
    };
  } catch (e) {
    const err = ConnectError.from(e);
    return {
      fast: fast(),
      result: {
        code: Code[err.code],
        message: err.rawMessage,
        metadata: entries(err.metadata),
        details: err.details.map((d) => ("type" in d ? [d.type, Buffer.from(d.value).toString("hex")] : d)),
        service: err.findDetails(HealthCheckRequestSchema).map((d) => d.service),
      },
    };
  }
}

/** For assertion messages: results hold bigints. */
const show = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x));

type Result = Awaited<ReturnType<typeof outcome>>["result"];

/** The same call through both pools: equal results, each served where expected. */
async function same(
  fast: PoolTransport,
  stock: PoolTransport,
  headers: Record<string, string>,
  options: () => CallOptions = () => ({}),
  servedFast = true,
): Promise<Result> {
  const a = await outcome(fast, headers, options());
  const b = await outcome(stock, headers, options());
  assert.deepEqual(a.result, b.result);
  assert.equal(a.fast, servedFast ? 1 : 0, "calls the fast path served (fast pool)");
  assert.equal(b.fast, 0, "calls the fast path served (connect-node pool)");
  return a.result;
}

const listen = async (server: http2.Http2Server) => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.2", r));
  return `ipv4:127.0.0.2:${(server.address() as AddressInfo).port}`;
};

describe("Connect fast path = connect-node's Connect transport", () => {
  let connectServer: http2.Http2Server;
  let rawServer: http2.Http2Server;
  let connectTarget: string;
  let rawTarget: string;
  /** Request headers the raw server saw, by the x-id the call sent. */
  const seen = new Map<string, http2.IncomingHttpHeaders>();
  const pools: PoolTransport[] = [];
  const pair = (target: string, extra: Partial<PoolTransportOptions> = {}) => {
    const make = (fastPath: boolean) => {
      const p = createPoolTransport({
        target,
        protocol: "connect",
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
            async *generateStream() {
              yield { rn: 7n };
            },
          }),
      }),
    );
    rawServer = http2.createServer();
    rawServer.on("stream", (stream, headers) => {
      const id = headers["x-id"];
      if (typeof id === "string") seen.set(id, headers);
      rawAnswer(stream, headers);
    });
    rawServer.on("session", (s) => s.on("error", () => {}));
    connectTarget = await listen(connectServer);
    rawTarget = await listen(rawServer);
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await new Promise((r) => connectServer.close(r));
    await new Promise((r) => rawServer.close(r));
  });

  for (const format of ["binary", "JSON"] as const) {
    describe(`${format}`, () => {
      let fast: PoolTransport;
      let stock: PoolTransport;
      let rawFast: PoolTransport;
      let rawStock: PoolTransport;
      const extra = format === "JSON" ? { useBinaryFormat: false } : {};
      before(() => {
        [fast, stock] = pair(connectTarget, extra);
        [rawFast, rawStock] = pair(rawTarget, extra);
      });

      it("a success: message, response headers and trailers", async () => {
        const a = await same(fast, stock, {});
        assert.ok("ok" in a);
        assert.deepEqual(a.ok, { rn: 42n, instance: "x" });
        assert.ok(a.header?.some(([k, v]) => k === "x-h" && v === "1"));
        assert.deepEqual(a.trailer, [["x-t", "2"]]);
      });

      for (let code = 1; code <= 16; code++) {
        it(`error ${Code[code]}: code, message, metadata, trailers and details`, async () => {
          const a = await same(fast, stock, { "x-outcome": `code:${code}` });
          assert.ok("code" in a);
          assert.equal(a.code, Code[code]);
          assert.equal(a.message, "boom: ü % \n end");
          assert.deepEqual(a.service, ["detail"]);
          assert.ok(a.metadata?.some(([k, v]) => k === "x-meta" && v === "m"));
          // The trailer- prefix is gone: trailers join the metadata.
          assert.ok(a.metadata?.some(([k, v]) => k === "x-t" && v === "2"));
        });
      }

      it("a deadline that passes: DEADLINE_EXCEEDED", async () => {
        const a = await same(fast, stock, { "x-outcome": "slow" }, () => ({ timeoutMs: 100 }));
        assert.ok("code" in a);
        assert.equal(a.code, "DeadlineExceeded");
      });

      it("cancellation through an AbortSignal: CANCELED", async () => {
        const a = await same(fast, stock, { "x-outcome": "slow" }, () => ({
          signal: AbortSignal.timeout(100),
        }));
        assert.ok("code" in a);
        assert.equal(a.code, "Canceled");
      });

      it("a signal aborted before the call: CANCELED, nothing sent", async () => {
        const signal = AbortSignal.abort(new Error("stop"));
        const a = await outcome(fast, {}, { signal });
        const b = await outcome(stock, {}, { signal });
        assert.deepEqual(a.result, b.result);
        assert.ok("code" in a.result);
        assert.equal(a.result.code, "Canceled");
      });

      it("a response over readMaxBytes (content-length known): RESOURCE_EXHAUSTED", async () => {
        const [f, s] = pair(connectTarget, { ...extra, readMaxBytes: 100 });
        const a = await same(f, s, { "x-size": "1000" });
        assert.ok("code" in a);
        assert.equal(a.code, "ResourceExhausted");
      });

      it("a request over writeMaxBytes: RESOURCE_EXHAUSTED before sending", async () => {
        const [f, s] = pair(connectTarget, { ...extra, writeMaxBytes: 1 });
        const a = await same(f, s, {});
        assert.ok("code" in a);
        assert.match(String(a.message), /^message size \d+ is larger than configured writeMaxBytes 1$/);
      });

      it("request headers: the server sees the same from both paths", async () => {
        await same(rawFast, rawStock, { "x-raw": "ok", "x-id": `${format}-f`, "x-user": "u" }, () => ({
          timeoutMs: 5000,
        }));
        // The second call of same() went through the stock pool with the same x-id.
        const stockSeen = seen.get(`${format}-f`);
        await outcome(rawFast, { "x-raw": "ok", "x-id": `${format}-g`, "x-user": "u" }, { timeoutMs: 5000 });
        const fastSeen = seen.get(`${format}-g`);
        const norm = (h: http2.IncomingHttpHeaders | undefined) => {
          const o = { ...h };
          delete o["x-id"];
          const t = Number(o["connect-timeout-ms"]);
          assert.ok(t > 4000 && t <= 5000, `connect-timeout-ms ${o["connect-timeout-ms"]}`);
          o["connect-timeout-ms"] = "T";
          return o;
        };
        assert.deepEqual(norm(fastSeen), norm(stockSeen));
        assert.equal(fastSeen?.[":method"], "POST");
        assert.equal(
          fastSeen?.["content-type"],
          format === "JSON" ? "application/json" : "application/proto",
        );
        assert.equal(fastSeen?.["connect-protocol-version"], "1");
        assert.equal(fastSeen?.["accept-encoding"], "gzip,br");
      });

      const rawCases: [string, string][] = [
        ["ok with unknown fields", "ok"],
        ["empty 200 body", format === "binary" ? "ok" : "InvalidArgument"],
        ["trailer- headers on a success", "ok"],
        ["JSON error with details and trailer- headers", "FailedPrecondition"],
        ["JSON error with an unknown code", "Unavailable"],
        ["JSON error whose message is not a string", "Unavailable"],
        ["JSON error with a malformed detail", "Unavailable"],
        ["error body that is not JSON", "Unknown"],
        ["error with a binary content type", "Unknown"],
        ["HTTP 400 without body", "Internal"],
        ["HTTP 401 without body", "Unauthenticated"],
        ["HTTP 403 without body", "PermissionDenied"],
        ["HTTP 404 without body", "Unimplemented"],
        ["HTTP 429 without body", "Unavailable"],
        ["HTTP 500 without body", "Unknown"],
        ["HTTP 502 without body", "Unavailable"],
        ["HTTP 503 without body", "Unavailable"],
        ["HTTP 504 without body", "Unavailable"],
        ["HTTP 418 without body", "Unknown"],
        ["200 with text/html", "Unknown"],
        ["200 with the other format", "Internal"],
        ["200 with a streaming content type", "Internal"],
        ["200 without content type", "Unknown"],
        ["gzip-compressed response", "ok"],
        ["br-compressed response", "ok"],
        ["gzip-compressed JSON error", "ResourceExhausted"],
        ["unsupported response encoding", "Internal"],
        ["corrupt gzip body", "InvalidArgument"],
        ["identity encoding", "ok"],
        // nghttp2 checks content-length against the DATA it receives before connect's own check can.
        ["content-length larger than the body", "Internal"],
        ["content-length smaller than the body", "Internal"],
        ["garbage body", format === "binary" ? "Internal" : "InvalidArgument"],
        ["a stream reset with REFUSED_STREAM", "Internal"],
        ["a stream reset with CANCEL", "Canceled"],
        ["a stream closed before the response", "Internal"],
        ["a server crash mid-call", "Unavailable"],
      ];
      for (const [what, expected] of rawCases) {
        it(`raw server: ${what}`, async () => {
          const a = await same(rawFast, rawStock, { "x-raw": what });
          if ("code" in a) assert.equal(a.code, expected, show(a));
          else assert.equal("ok", expected, show(a));
        });
      }

      it("raw server: a response over readMaxBytes without content-length", async () => {
        const [f, s] = pair(rawTarget, { ...extra, readMaxBytes: 10 });
        const a = await same(f, s, { "x-raw": "big body without content-length" });
        assert.ok("code" in a);
        assert.equal(a.code, "ResourceExhausted");
        assert.equal(a.message, "message size is larger than configured readMaxBytes 10");
      });

      it("raw server: a gzip response over readMaxBytes once decompressed", async () => {
        const [f, s] = pair(rawTarget, { ...extra, readMaxBytes: 100 });
        const a = await same(f, s, { "x-raw": "gzip bomb" });
        assert.ok("code" in a);
        assert.equal(a.code, "ResourceExhausted");
      });

      it("acceptCompression: [] offers nothing; a gzip response is then refused alike", async () => {
        const [f, s] = pair(rawTarget, { ...extra, acceptCompression: [] });
        const a = await same(f, s, { "x-raw": "gzip-compressed response" });
        assert.ok("code" in a);
        assert.equal(a.code, "Internal");
      });

      it("retries: a policy retry after HTTP 503 runs on both paths alike", async () => {
        const [f, s] = pair(rawTarget, {
          ...extra,
          retryPolicy: { maxAttempts: 3, retryableCodes: [Code.Unavailable], initialBackoffMs: 1 },
        });
        const a = await outcome(f, { "x-raw": "HTTP 503 without body" });
        const b = await outcome(s, { "x-raw": "HTTP 503 without body" });
        assert.deepEqual(a.result, b.result);
        assert.equal(a.fast, 3, "three attempts on the fast path");
        assert.equal(f.stats().endpoints[0]?.calls, 3);
        assert.equal(s.stats().endpoints[0]?.calls, 3);
        assert.equal(f.stats().retries.policy, 2);
        assert.equal(s.stats().retries.policy, 2);
      });

      it("retries: a refused stream is retried transparently on both paths", async () => {
        const [f, s] = pair(rawTarget, { ...extra, transparentRetries: 1 });
        const a = await outcome(f, { "x-raw": "refuse the first stream", "x-id": `${format}-r1` });
        const b = await outcome(s, { "x-raw": "refuse the first stream", "x-id": `${format}-r2` });
        assert.deepEqual(a.result, b.result);
        assert.ok("ok" in a.result, show(a.result));
        assert.equal(a.fast, 2);
        assert.equal(f.stats().retries.transparent, 1);
        assert.equal(s.stats().retries.transparent, 1);
      });

      it("falls back to connect-node with interceptors, as the gRPC fast path does", async () => {
        const calls: string[] = [];
        const interceptor: Interceptor = (next) => (req) => {
          calls.push(req.url);
          return next(req);
        };
        const [f, s] = pair(connectTarget, { ...extra, interceptors: [interceptor] });
        await same(f, s, { "x-outcome": "code:5" }, undefined, false);
        assert.equal(calls.length, 2);
      });

      it("sendCompression: a request over compressMinBytes goes compressed, on the fast path", async () => {
        // A connect-node server decompresses it: the call works only if the body is valid gzip.
        const [f, s] = pair(connectTarget, {
          ...extra,
          sendCompression: compressionGzip,
          compressMinBytes: 0,
        });
        const a = await same(f, s, {});
        assert.ok("ok" in a, show(a));
        // The raw server shows the request headers: content-encoding on both paths.
        const [rf, rs] = pair(rawTarget, { ...extra, sendCompression: compressionGzip, compressMinBytes: 0 });
        await outcome(rf, { "x-raw": "ok", "x-id": `${format}-gz-f` });
        await outcome(rs, { "x-raw": "ok", "x-id": `${format}-gz-s` });
        assert.equal(seen.get(`${format}-gz-f`)?.["content-encoding"], "gzip");
        assert.equal(seen.get(`${format}-gz-s`)?.["content-encoding"], "gzip");
      });

      it("sendCompression: a request up to compressMinBytes goes as it is", async () => {
        const [rf, rs] = pair(rawTarget, { ...extra, sendCompression: compressionGzip });
        const a = await outcome(rf, { "x-raw": "ok", "x-id": `${format}-small-f`, "content-encoding": "x" });
        const b = await outcome(rs, { "x-raw": "ok", "x-id": `${format}-small-s`, "content-encoding": "x" });
        assert.deepEqual(a.result, b.result);
        assert.equal(a.fast, 1);
        // Not compressed, so no content-encoding: not even the one the call set.
        assert.equal(seen.get(`${format}-small-f`)?.["content-encoding"], undefined);
        assert.equal(seen.get(`${format}-small-s`)?.["content-encoding"], undefined);
      });

      it("streaming calls go through connect-node", async () => {
        const before = connectFastPathCalls.started;
        const client = createClient(RngService, fast);
        const got: bigint[] = [];
        for await (const m of client.generateStream({})) got.push(m.rn);
        assert.deepEqual(got, [7n]);
        assert.equal(connectFastPathCalls.started, before);
      });
    });
  }

  it("fastPath: false and protocol grpc never use the Connect fast path", async () => {
    const grpc = createPoolTransport({ target: connectTarget, healthCheck: false });
    pools.push(grpc);
    const a = await outcome(grpc, {});
    assert.equal(a.fast, 0);
    assert.ok("ok" in a.result);
  });
});

/**
 * A service with a NO_SIDE_EFFECTS method (Get) beside a plain one (Put),
 * which no proto of this repository has: made from a descriptor.
 */
function getTestService(): DescService {
  const string = (name: string) => ({
    name,
    number: 1,
    type: FieldDescriptorProto_Type.STRING,
    label: FieldDescriptorProto_Label.OPTIONAL,
    jsonName: name,
  });
  const method = (name: string, idempotencyLevel: MethodOptions_IdempotencyLevel) => ({
    name,
    inputType: ".gettest.v1.Key",
    outputType: ".gettest.v1.Value",
    options: { idempotencyLevel },
  });
  const file = create(FileDescriptorProtoSchema, {
    name: "gettest/v1/get.proto",
    package: "gettest.v1",
    syntax: "proto3",
    messageType: [
      { name: "Key", field: [string("key")] },
      { name: "Value", field: [string("value")] },
    ],
    service: [
      {
        name: "GetService",
        method: [
          method("Get", MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS),
          method("Put", MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN),
        ],
      },
    ],
  });
  const service = createFileRegistry(file, () => undefined).getService("gettest.v1.GetService");
  assert.ok(service);
  return service;
}

describe("Connect fast path: useHttpGet sends NO_SIDE_EFFECTS calls as GET, as connect-node does", () => {
  const GetService = getTestService();
  const [get, put] = GetService.methods as unknown as [
    DescMethodUnary<DescMessage, DescMessage>,
    DescMethodUnary<DescMessage, DescMessage>,
  ];
  for (const format of ["binary", "JSON"] as const) {
    for (const compressed of [false, true]) {
      it(`${format}${compressed ? ", gzip" : ""}: same requests (method, path, headers) and results`, async () => {
        const requests: http2.IncomingHttpHeaders[] = [];
        const server = http2.createServer(
          connectNodeAdapter({
            routes: (router) =>
              router.service(GetService, {
                // A quote and a space: the query string must be escaped exactly as connect-node escapes it.
                get: (req: { key: string }, ctx: HandlerContext) => {
                  if (req.key === "fail") throw new ConnectError("no such key", Code.NotFound);
                  ctx.responseTrailer.set("x-t", ctx.requestMethod);
                  return { value: `v of ${req.key}` };
                },
                put: (req: { key: string }, ctx: HandlerContext) => ({
                  value: `${ctx.requestMethod} ${req.key}`,
                }),
              } as never),
          }),
        );
        server.on("stream", (_s, h) => requests.push(h));
        const target = await listen(server);
        const pools: PoolTransport[] = [];
        try {
          const call = async (fastPath: boolean, method: typeof get, key: string) => {
            const pool = createPoolTransport({
              target,
              protocol: "connect",
              fastPath,
              healthCheck: false,
              useHttpGet: true,
              ...(format === "JSON" ? { useBinaryFormat: false } : {}),
              ...(compressed ? { sendCompression: compressionGzip, compressMinBytes: 0 } : {}),
            });
            pools.push(pool);
            const before = connectFastPathCalls.started;
            const at = requests.length;
            let result: unknown;
            try {
              const res = await pool.unary(method, undefined, 5000, undefined, { key } as never);
              result = { message: res.message, trailer: entries(res.trailer) };
            } catch (e) {
              const err = ConnectError.from(e);
              result = { code: Code[err.code], message: err.rawMessage };
            }
            const h = { ...requests[at] };
            assert.ok(Number(h["connect-timeout-ms"]) > 4000);
            delete h["connect-timeout-ms"];
            return { result, request: h, fast: connectFastPathCalls.started - before };
          };
          for (const [method, key, verb] of [
            [get, "it's a key", "GET"],
            [get, "fail", "GET"],
            [put, "it's a key", "POST"],
          ] as const) {
            const a = await call(true, method, key);
            const b = await call(false, method, key);
            assert.deepEqual(a.result, b.result);
            assert.deepEqual(a.request, b.request);
            assert.equal(a.fast, 1);
            assert.equal(b.fast, 0);
            assert.equal(a.request[":method"], verb);
            if (verb === "GET") {
              assert.match(String(a.request[":path"]), /^\/gettest\.v1\.GetService\/Get\?connect=v1&/);
              assert.equal(a.request["content-type"], undefined);
            }
          }
        } finally {
          await Promise.all(pools.map((p) => p.close()));
          await new Promise((r) => server.close(r));
        }
      });
    }
  }
});

describe("Connect fast path: the pool's call metrics record what they record on connect-node's path", () => {
  for (const format of ["binary", "JSON"] as const) {
    it(`${format}: the same call and attempt points (counts, statuses, message sizes)`, async () => {
      const server = http2.createServer(
        connectNodeAdapter({
          routes: (router) =>
            router.service(RngService, {
              async generate(req) {
                if (req.delayMs === 13) throw new ConnectError("no", Code.NotFound);
                return { rn: 42n, instance: "instance-name" };
              },
              async *generateStream() {},
            }),
        }),
      );
      const target = await listen(server);
      const pools: PoolTransport[] = [];
      try {
        const measure = async (fastPath: boolean) => {
          const { provider, reader } = testMeter();
          const pool = createPoolTransport({
            target,
            protocol: "connect",
            fastPath,
            healthCheck: false,
            ...(format === "JSON" ? { useBinaryFormat: false } : {}),
            telemetry: { meterProvider: provider },
          });
          pools.push(pool);
          const client = createClient(RngService, pool);
          const before = connectFastPathCalls.started;
          for (let i = 0; i < 3; i++) await client.generate({ delayMs: 5 });
          await client.generate({ delayMs: 13 }).catch(() => {});
          assert.equal(connectFastPathCalls.started - before, fastPath ? 4 : 0);
          const m = await collect(reader);
          // Durations differ from run to run: counts, attributes and sizes do not.
          const names = [
            METRIC.attemptStarted,
            METRIC.attemptDuration,
            METRIC.callDuration,
            METRIC.attemptSentSize,
            METRIC.attemptRcvdSize,
          ];
          return names.map((name) => [
            name,
            (m.get(name)?.points ?? []).map((p) => ({
              attributes: p.attributes,
              value:
                typeof p.value === "number"
                  ? p.value
                  : name.endsWith("size")
                    ? { count: p.value.count, sum: p.value.sum }
                    : { count: p.value.count },
            })),
          ]);
        };
        const fast = await measure(true);
        const stock = await measure(false);
        assert.deepEqual(fast, stock);
        const sent = fast.find(([n]) => n === METRIC.attemptSentSize)?.[1] as { value: { sum: number } }[];
        // GenerateRequest{delayMs: 5} is 2 bytes in the binary format, whatever the wire carries.
        assert.equal(
          sent.reduce((n, p) => n + p.value.sum, 0),
          8,
        );
      } finally {
        await Promise.all(pools.map((p) => p.close()));
        await new Promise((r) => server.close(r));
      }
    });
  }
});

/** Answers like a server that may misbehave, as the request's x-raw header says. */
function rawAnswer(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
  stream.on("error", () => {});
  const what = String(headers["x-raw"] ?? "");
  const json = String(headers["content-type"]).startsWith("application/json");
  const type = json ? "application/json" : "application/proto";
  const other = json ? "application/proto" : "application/json";
  const message = (instance = "raw") => {
    const m = create(GenerateResponseSchema, { rn: 1n, instance });
    return json
      ? Buffer.from(toJsonString(GenerateResponseSchema, m))
      : Buffer.from(toBinary(GenerateResponseSchema, m));
  };
  const ok = (body: Buffer, extra: http2.OutgoingHttpHeaders = {}) => {
    stream.respond({ ":status": 200, "content-type": type, "content-length": body.length, ...extra });
    stream.end(body);
  };
  const error = (status: number, body: string | Buffer, extra: http2.OutgoingHttpHeaders = {}) => {
    stream.respond({ ":status": status, "content-type": "application/json", ...extra });
    stream.end(body);
  };
  const detail = {
    type: "grpc.health.v1.HealthCheckRequest",
    value: base64Encode(
      toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "d" })),
      "std_raw",
    ),
  };
  stream.resume();
  const status = /^HTTP (\d+) without body$/.exec(what);
  if (status) {
    stream.respond({ ":status": Number(status[1]) }, { endStream: true });
    return;
  }
  switch (what) {
    case "ok":
      ok(message());
      return;
    case "ok with unknown fields": {
      if (json) {
        // Unknown JSON fields are ignored (connect's default ignoreUnknownFields).
        ok(Buffer.from(JSON.stringify({ rn: "1", instance: "raw", extraField: 5 })));
        return;
      }
      // Field 99, varint 5: kept as an unknown field.
      ok(Buffer.concat([message(), Buffer.from([0x98, 0x06, 0x05])]));
      return;
    }
    case "empty 200 body":
      ok(Buffer.alloc(0));
      return;
    case "trailer- headers on a success":
      ok(message(), { "trailer-x-t": "t1", "trailer-grpc-x": "t2", "x-h": "h" });
      return;
    case "JSON error with details and trailer- headers":
      error(
        400,
        JSON.stringify({
          code: "failed_precondition",
          message: "not yet",
          details: [{ ...detail, debug: { service: "d" } }],
        }),
        { "trailer-x-t": "t", "x-h": "h" },
      );
      return;
    case "JSON error with an unknown code":
      error(503, JSON.stringify({ code: "no_such_code", message: "m" }));
      return;
    case "JSON error whose message is not a string":
      error(503, JSON.stringify({ code: "internal", message: 5 }));
      return;
    case "JSON error with a malformed detail":
      error(503, JSON.stringify({ code: "internal", details: [{ type: "x" }] }));
      return;
    case "error body that is not JSON":
      error(500, "<html>oops</html>");
      return;
    case "error with a binary content type":
      stream.respond({ ":status": 500, "content-type": "application/proto" });
      stream.end(JSON.stringify({ code: "internal", message: "m" }));
      return;
    case "200 with text/html":
      stream.respond({ ":status": 200, "content-type": "text/html" });
      stream.end("<html></html>");
      return;
    case "200 with the other format":
      stream.respond({ ":status": 200, "content-type": other });
      stream.end(message());
      return;
    case "200 with a streaming content type":
      stream.respond({ ":status": 200, "content-type": `application/connect+${json ? "json" : "proto"}` });
      stream.end(message());
      return;
    case "200 without content type":
      stream.respond({ ":status": 200 });
      stream.end(message());
      return;
    case "gzip-compressed response":
      ok(gzipSync(message("g".repeat(50))), { "content-encoding": "gzip" });
      return;
    case "br-compressed response":
      ok(brotliCompressSync(message("b".repeat(50))), { "content-encoding": "br" });
      return;
    case "gzip-compressed JSON error":
      error(429, gzipSync(JSON.stringify({ code: "resource_exhausted", message: "slow down" })), {
        "content-encoding": "gzip",
      });
      return;
    case "unsupported response encoding":
      ok(message(), { "content-encoding": "zstd" });
      return;
    case "corrupt gzip body":
      ok(Buffer.from("not gzip at all"), { "content-encoding": "gzip" });
      return;
    case "identity encoding":
      ok(message(), { "content-encoding": "identity" });
      return;
    case "content-length larger than the body": {
      const body = message();
      stream.respond({ ":status": 200, "content-type": type, "content-length": body.length + 10 });
      stream.end(body);
      return;
    }
    case "content-length smaller than the body": {
      const body = message();
      stream.respond({ ":status": 200, "content-type": type, "content-length": body.length - 2 });
      stream.end(body);
      return;
    }
    case "garbage body":
      // rn (field 1, varint) whose varint never ends; for JSON, not JSON.
      ok(json ? Buffer.from("{not json") : Buffer.from([0x08, 0xff, 0xff]));
      return;
    case "big body without content-length":
      stream.respond({ ":status": 200, "content-type": type });
      stream.end(message("y".repeat(100)));
      return;
    case "gzip bomb":
      ok(gzipSync(message("z".repeat(5000))), { "content-encoding": "gzip" });
      return;
    case "a stream reset with REFUSED_STREAM":
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    case "a stream reset with CANCEL":
      stream.close(http2.constants.NGHTTP2_CANCEL);
      return;
    case "a stream closed before the response":
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
      return;
    case "a server crash mid-call":
      stream.respond({ ":status": 200, "content-type": type });
      setTimeout(() => stream.session?.destroy(), 20);
      return;
    case "refuse the first stream": {
      const id = String(headers["x-id"]);
      if (!refused.has(id)) {
        refused.add(id);
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      ok(message());
      return;
    }
    default:
      error(500, JSON.stringify({ code: "unknown", message: `unknown raw case ${what}` }));
  }
}

const refused = new Set<string>();
