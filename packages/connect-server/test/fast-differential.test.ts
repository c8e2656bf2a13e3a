/**
 * The server's unary gRPC fast path against connect-node itself: the same
 * calls sent to a stock connect-node server (connectNodeAdapter on
 * node:http2) and to a server with the fast path (fastConnectNodeAdapter +
 * createHttp2Server), both serving the same test service
 * (./fast-service.ts), and the results required to be identical as three
 * clients see them: connect-es (createGrpcTransport), grpc-js, and a raw
 * node:http2 client (status, headers in wire order minus date, body bytes,
 * trailers, reset code). What clients cannot see (did the handler run, how
 * did its signal abort) is compared through the services' own records.
 * Each case also says which path must have served it, from the fast path's
 * counters, so the suite fails if everything silently falls back.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  fromBinary,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues } from "@connectrpc/connect";
import {
  compressionGzip,
  connectNodeAdapter,
  createConnectTransport,
  createGrpcTransport,
  type GrpcTransportOptions,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { Health, HealthCheckRequestSchema } from "@rngbalance/grpc-protos";
import { Rng, RngService } from "@rngbalance/proto";
import { GenerateRequestSchema, GenerateStreamRequestSchema } from "@rngbalance/proto/rng/v1";
import {
  createHttp2Server,
  type FastConnectNodeAdapterOptions,
  fastConnectNodeAdapter,
  type GrpcUnaryFastPathStats,
  trailerHookInterceptor,
  type UnaryTrailerHook,
} from "../src/fast/index.js";
import { createUnknownMethodFallback } from "../src/unknown-method.js";

const unknownMethodFallback = createUnknownMethodFallback([
  "rng.Rng",
  "rng.v1.RngService",
  "grpc.health.v1.Health",
]);

import { FrameFlag, FrameType, HTTP2_HELLO, h2Frame, postHeaderBlock } from "@rngbalance/testkit";
import { kUser, type Observation, type ObservationLog, testInterceptor, testRoutes } from "./fast-service.js";

type ClientKind = "connect" | "grpc-js" | "raw";
const ALL_CLIENTS: ClientKind[] = ["connect", "grpc-js", "raw"];

/** One call, sent alike to both servers by each client in `clients`. */
interface Case {
  name: string;
  /** The method connect-es calls; default RngService.Generate. */
  method?: DescMethodUnary;
  /** The path grpc-js and the raw client call; default the method's. */
  path?: string;
  /** The `x-test-behaviour` header. */
  behaviour?: string;
  /** The request message, serialized; default GenerateRequest { delayMs: 3 }. */
  input?: Uint8Array;
  /** Raw client only: the request body instead of one frame of `input`; an array is written chunk by chunk. */
  body?: Buffer | Buffer[];
  /** Raw client only: request headers to add, or to remove (undefined). */
  headers?: Record<string, string | undefined>;
  timeoutMs?: number;
  cancelAfterMs?: number;
  clients?: ClientKind[];
  connect?: Partial<GrpcTransportOptions>;
  grpcJs?: grpc.ChannelOptions;
  /** Which path must serve the call on the fast server. */
  served: "fast" | "fallback";
  /** The gRPC status every client must report (0 for OK); omit for HTTP-level answers. */
  status?: Code | 0;
  /**
   * What the implementation must have recorded, the same on both servers;
   * except `racy` observations (a client that gives up at its deadline races
   * the server's own deadline timer, under connect-node as on the fast path),
   * where only "the signal fired" must match.
   */
  observe?: (o: Observation | undefined, kind: ClientKind) => void;
  /**
   * The client's deadline races the server's: connect-es and grpc-js may
   * end the call themselves ("Deadline exceeded after …", no headers) or
   * get the server's DEADLINE_EXCEEDED first, on either server, run to run.
   * Their results are then compared by status alone (raw clients set no
   * deadline of their own and are compared whole).
   */
  racy?: boolean;
}

const GENERATE = RngService.method.generate as unknown as DescMethodUnary;
const CHECK = Health.method.check as unknown as DescMethodUnary;
const LEGACY = Rng.method.rng as unknown as DescMethodUnary;
const generateRequest = (delayMs = 3) =>
  toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { delayMs }));

function frame(message: Uint8Array, flags = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flags;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** A valid request (delay_ms 0) padded with an unknown field to `bytes` bytes. */
function bigRequest(bytes: number): Uint8Array {
  const filler = bytes - 3;
  return Uint8Array.from([0x7a, 0x80 | (filler & 0x7f), filler >> 7, ...new Uint8Array(filler).fill(1)]);
}

/**
 * The handler's signal fired at the deadline: with the server's own
 * deadline, or (connect-es and grpc-js give up at the same instant and
 * reset the stream, INTERNAL_ERROR and CANCEL) with the reset.
 */
function deadlineFired(o: Observation | undefined, kind: ClientKind): void {
  const allowed = kind === "raw" ? ["DeadlineExceeded"] : ["DeadlineExceeded", "Internal", "Canceled"];
  assert.ok(allowed.includes(o?.signal?.code ?? ""), JSON.stringify(o));
}

const CASES: Case[] = [
  // --- successes -------------------------------------------------------------------------------
  { name: "a plain success", served: "fast", status: 0 },
  { name: "an async handler", behaviour: "async", served: "fast", status: 0 },
  {
    name: "headers and trailers set by the handler (repeated, set-cookie, -bin)",
    behaviour: "headers",
    served: "fast",
    status: 0,
  },
  {
    name: "the context a handler sees (url, timeout, request headers, response headers, values)",
    behaviour: "echo",
    timeoutMs: 30_000,
    headers: { "grpc-timeout": "30S", "x-custom": "c" },
    served: "fast",
    status: 0,
  },
  {
    name: "a synchronous handler: legacy /rng.Rng/Rng",
    method: LEGACY,
    input: new Uint8Array(),
    served: "fast",
    status: 0,
  },
  {
    name: "Health/Check",
    method: CHECK,
    input: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "" })),
    served: "fast",
    status: 0,
  },
  { name: "an empty request message", input: generateRequest(0), served: "fast", status: 0 },
  {
    name: "a response compressed as grpc-accept-encoding asks (2000 bytes)",
    behaviour: "size=2000",
    headers: { "grpc-accept-encoding": "br, gzip" },
    served: "fast",
    status: 0,
  },
  {
    name: "a response below compressMinBytes, grpc-encoding still named",
    behaviour: "size=10",
    headers: { "grpc-accept-encoding": "gzip" },
    served: "fast",
    status: 0,
  },
  {
    name: "a grpc-accept-encoding the server does not know",
    headers: { "grpc-accept-encoding": "snappy, zstd" },
    clients: ["raw"],
    served: "fast",
    status: 0,
  },
  {
    name: "a request split over several DATA frames",
    body: [Buffer.from([0, 0]), Buffer.from([0, 0, 2, 0x08]), Buffer.from([0x03])],
    clients: ["raw"],
    served: "fast",
    status: 0,
  },
  {
    name: "grpc-encoding identity",
    headers: { "grpc-encoding": "identity" },
    clients: ["raw"],
    served: "fast",
    status: 0,
  },
  {
    name: "content-type in other case (application/GRPC+Proto)",
    headers: { "content-type": "application/GRPC+Proto" },
    clients: ["raw"],
    served: "fast",
    status: 0,
  },
  // --- errors ----------------------------------------------------------------------------------
  ...Array.from(
    { length: 16 },
    (_, i): Case => ({
      name: `status ${Code[i + 1]}: message, details, metadata`,
      behaviour: `status=${Code[i + 1]}`,
      served: "fast",
      status: (i + 1) as Code,
    }),
  ),
  {
    name: "an async handler that fails",
    behaviour: "async;status=NotFound",
    served: "fast",
    status: Code.NotFound,
  },
  { name: "a handler that throws a plain Error", behaviour: "throw", served: "fast", status: Code.Internal },
  {
    name: "headers and trailers set, then an error",
    behaviour: "headers;status=Aborted",
    served: "fast",
    status: Code.Aborted,
  },
  {
    name: "a synchronous handler that throws",
    method: LEGACY,
    input: new Uint8Array(),
    behaviour: "fail",
    served: "fast",
    status: Code.FailedPrecondition,
  },
  {
    name: "Health/Check NOT_FOUND",
    method: CHECK,
    input: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "nope" })),
    served: "fast",
    status: Code.NotFound,
  },
  {
    name: "a response over writeMaxBytes",
    behaviour: "size=5000",
    served: "fast",
    status: Code.ResourceExhausted,
  },
  // --- deadlines and cancellation -------------------------------------------------------------
  {
    name: "a deadline that passes while the handler waits on its signal",
    behaviour: "wait-signal",
    timeoutMs: 100,
    headers: { "grpc-timeout": "100m" },
    served: "fast",
    status: Code.DeadlineExceeded,
    racy: true,
    observe: deadlineFired,
  },
  {
    name: "a deadline that passed before the handler first reads its signal",
    behaviour: "late-signal=150",
    timeoutMs: 50,
    headers: { "grpc-timeout": "50m" },
    clients: ["raw"],
    served: "fast",
    status: 0,
    observe: (o) => assert.equal(o?.signal?.code, "DeadlineExceeded"),
  },
  {
    name: "grpc-timeout 0n: the signal is aborted from the start",
    behaviour: "late-signal=0",
    headers: { "grpc-timeout": "0n" },
    clients: ["raw"],
    served: "fast",
    status: 0,
    observe: (o) => assert.equal(o?.signal?.code, "DeadlineExceeded"),
  },
  {
    name: "a client that cancels while the handler waits on its signal",
    behaviour: "wait-signal",
    cancelAfterMs: 100,
    served: "fast",
    status: Code.Canceled,
    observe: (o) =>
      assert.deepEqual(o?.signal, {
        code: "Canceled",
        message: "http/2 stream closed with error code CANCEL (0x8)",
      }),
  },
  {
    name: "a client that cancelled before the handler first reads its signal",
    behaviour: "late-signal=150",
    cancelAfterMs: 50,
    served: "fast",
    status: Code.Canceled,
    observe: (o) => assert.equal(o?.signal?.code, "Canceled"),
  },
  {
    name: "an invalid grpc-timeout",
    headers: { "grpc-timeout": "soon" },
    clients: ["raw"],
    served: "fallback",
    status: Code.InvalidArgument,
  },
  // --- malformed requests ----------------------------------------------------------------------
  {
    name: "a message over readMaxBytes",
    input: bigRequest(2000),
    clients: ["grpc-js", "raw"],
    served: "fast",
    status: Code.ResourceExhausted,
    observe: (o) => assert.equal(o, undefined),
  },
  {
    name: "a message over readMaxBytes (connect-es)",
    method: CHECK,
    input: toBinary(
      HealthCheckRequestSchema,
      create(HealthCheckRequestSchema, { service: "s".repeat(2000) }),
    ),
    clients: ["connect"],
    served: "fast",
    status: Code.ResourceExhausted,
  },
  {
    name: "a frame header over readMaxBytes, nothing after it",
    body: Buffer.from([0, 0, 0x10, 0, 0]),
    clients: ["raw"],
    served: "fast",
    status: Code.ResourceExhausted,
  },
  {
    name: "malformed protobuf",
    body: frame(Uint8Array.from([0x0a, 0xff, 0x01, 0x02])),
    clients: ["raw"],
    served: "fast",
    status: Code.Internal,
  },
  {
    name: "a truncated frame (100 bytes promised, 3 sent)",
    body: Buffer.from([0, 0, 0, 0, 100, 1, 2, 3]),
    clients: ["raw"],
    served: "fast",
    status: Code.InvalidArgument,
  },
  {
    name: "fewer bytes than a frame header",
    body: Buffer.from([0, 0, 0]),
    clients: ["raw"],
    served: "fast",
    status: Code.InvalidArgument,
  },
  {
    name: "no message at all",
    body: Buffer.alloc(0),
    clients: ["raw"],
    served: "fast",
    status: Code.Unimplemented,
  },
  {
    name: "two messages on a unary call",
    body: Buffer.concat([frame(generateRequest()), frame(generateRequest())]),
    clients: ["raw"],
    served: "fast",
    status: Code.Unimplemented,
    observe: (o) => assert.equal(o, undefined),
  },
  {
    name: "a second message that is malformed",
    body: Buffer.concat([frame(generateRequest()), frame(Uint8Array.from([0x08, 0xff]))]),
    clients: ["raw"],
    served: "fast",
    status: Code.Internal,
  },
  {
    name: "a compressed frame without grpc-encoding",
    body: frame(generateRequest(), 1),
    clients: ["raw"],
    served: "fast",
    status: Code.Internal,
  },
  // --- calls the fast path leaves to connect-node ----------------------------------------------
  {
    name: "an unknown method (trailers-only UNIMPLEMENTED from the fallback)",
    method: { ...GENERATE, name: "Nope" } as DescMethodUnary,
    path: "/rng.v1.RngService/Nope",
    served: "fallback",
    status: Code.Unimplemented,
  },
  {
    name: "an unknown service",
    path: "/nope.Nope/Nope",
    clients: ["grpc-js", "raw"],
    served: "fallback",
    status: Code.Unimplemented,
  },
  {
    name: "a gzip-compressed request (grpc-encoding gzip)",
    body: frame(gzipSync(generateRequest()), 1),
    headers: { "grpc-encoding": "gzip" },
    connect: { sendCompression: compressionGzip, compressMinBytes: 0 },
    grpcJs: { "grpc.default_compression_algorithm": 2 },
    served: "fallback",
    status: 0,
  },
  {
    name: "grpc-encoding gzip on an uncompressed frame",
    headers: { "grpc-encoding": "gzip" },
    clients: ["raw"],
    served: "fallback",
    status: 0,
  },
  {
    name: "an unsupported grpc-encoding",
    headers: { "grpc-encoding": "snappy" },
    clients: ["raw"],
    served: "fallback",
    status: Code.Unimplemented,
  },
  { name: "te header missing", headers: { te: undefined }, clients: ["raw"], served: "fallback", status: 0 },
  {
    name: "content-type application/json (the Connect protocol: its own fast path, see connect-fast-differential)",
    body: Buffer.from("{}"),
    headers: { "content-type": "application/json" },
    clients: ["raw"],
    served: "fast",
  },
  {
    name: "content-type application/grpc+json",
    body: frame(Buffer.from('{"delayMs":3}')),
    headers: { "content-type": "application/grpc+json" },
    clients: ["raw"],
    served: "fallback",
    status: 0,
  },
  {
    name: "content-type application/grpc-web+proto",
    headers: { "content-type": "application/grpc-web+proto" },
    clients: ["raw"],
    served: "fallback",
  },
  {
    name: "content-type text/plain",
    headers: { "content-type": "text/plain" },
    clients: ["raw"],
    served: "fallback",
  },
  {
    name: "content-type missing",
    headers: { "content-type": undefined },
    clients: ["raw"],
    served: "fallback",
  },
  { name: "method GET", headers: { ":method": "GET" }, clients: ["raw"], served: "fallback" },
  {
    name: "a query string on the path",
    path: "/rng.v1.RngService/Generate?x=1",
    clients: ["raw"],
    served: "fallback",
    status: 0,
  },
  {
    name: "a server-streaming method",
    path: "/rng.v1.RngService/GenerateStream",
    input: toBinary(GenerateStreamRequestSchema, create(GenerateStreamRequestSchema, { count: 2 })),
    clients: ["raw"],
    served: "fallback",
  },
];

/** A server under test, with what its implementations recorded. */
interface TestServer {
  readonly address: string;
  readonly log: ObservationLog;
  readonly stats: GrpcUnaryFastPathStats | undefined;
  close(): Promise<void>;
}

async function startServer(
  kind: "stock" | "fast",
  extra: Partial<FastConnectNodeAdapterOptions>,
): Promise<TestServer> {
  const log: ObservationLog = new Map();
  const options: FastConnectNodeAdapterOptions = {
    routes: testRoutes(log),
    readMaxBytes: 1024,
    writeMaxBytes: 4096,
    fallback: unknownMethodFallback,
    ...extra,
  };
  let server: http2.Http2Server;
  let stats: GrpcUnaryFastPathStats | undefined;
  if (kind === "stock") {
    // The reference: connect-node, with a trailer hook as the outermost interceptor.
    const { trailerHook, ...stock } = options;
    const interceptors = trailerHook
      ? [trailerHookInterceptor(trailerHook), ...(stock.interceptors ?? [])]
      : [];
    server = http2.createServer({}, connectNodeAdapter(trailerHook ? { ...stock, interceptors } : stock));
  } else {
    const handler = fastConnectNodeAdapter(options);
    stats = handler.grpcUnaryFastPath?.stats;
    server = createHttp2Server({}, handler);
  }
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
    s.once("close", () => sessions.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    stats,
    async close() {
      for (const s of sessions) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Clients kept per server (and per option set) for the whole suite. */
class Clients {
  private readonly managers = new Map<string, Http2SessionManager>();
  private readonly grpcClients = new Map<string, grpc.Client>();

  connect(address: string, options: Partial<GrpcTransportOptions> = {}) {
    const key = `${address} ${JSON.stringify(options)}`;
    let sessionManager = this.managers.get(key);
    if (!sessionManager) {
      sessionManager = new Http2SessionManager(`http://${address}`);
      this.managers.set(key, sessionManager);
    }
    return createGrpcTransport({ baseUrl: `http://${address}`, sessionManager, ...options });
  }

  grpcJs(address: string, options: grpc.ChannelOptions = {}): grpc.Client {
    const key = `${address} ${JSON.stringify(options)}`;
    let client = this.grpcClients.get(key);
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), options);
      this.grpcClients.set(key, client);
    }
    return client;
  }

  close(): void {
    for (const m of this.managers.values()) m.abort();
    for (const c of this.grpcClients.values()) c.close();
  }
}

/** A header object without date (it differs by the second), in comparable form. */
function comparableHeaders(h: Headers | undefined): [string, string][] | undefined {
  if (!h) return undefined;
  return [...h].filter(([k]) => k !== "date");
}

async function viaConnect(clients: Clients, server: TestServer, c: Case, id: string) {
  const method = c.method ?? GENERATE;
  const transport = clients.connect(server.address, c.connect);
  const headers: Record<string, string> = { "x-test-id": id };
  if (c.behaviour) headers["x-test-behaviour"] = c.behaviour;
  if (c.headers?.["x-custom"]) headers["x-custom"] = c.headers["x-custom"];
  const input = fromBinary(method.input, c.input ?? generateRequest());
  const controller = new AbortController();
  const timer = c.cancelAfterMs ? setTimeout(() => controller.abort(), c.cancelAfterMs) : undefined;
  try {
    const res = await transport.unary(method, controller.signal, c.timeoutMs, headers, input as never);
    return {
      status: 0,
      message: toJson(method.output as DescMessage, res.message as never),
      header: comparableHeaders(res.header),
      trailer: comparableHeaders(res.trailer),
    };
  } catch (e) {
    const err = ConnectError.from(e);
    return {
      status: err.code,
      message: err.rawMessage,
      metadata: comparableHeaders(err.metadata),
      details: err.details.map((d) =>
        "desc" in d ? d : { type: d.type, value: Buffer.from(d.value).toString("base64") },
      ),
    };
  } finally {
    clearTimeout(timer);
  }
}

function metadataJson(md: grpc.Metadata | undefined) {
  if (!md) return undefined;
  const out: Record<string, string[]> = {};
  for (const [k, values] of Object.entries(md.toJSON())) {
    if (k === "date") continue;
    out[k] = values.map((v) => (Buffer.isBuffer(v) ? `bin:${v.toString("base64")}` : v));
  }
  return out;
}

async function viaGrpcJs(clients: Clients, server: TestServer, c: Case, id: string) {
  const client = clients.grpcJs(server.address, c.grpcJs);
  const path = c.path ?? `/${(c.method ?? GENERATE).parent.typeName}/${(c.method ?? GENERATE).name}`;
  const metadata = new grpc.Metadata();
  metadata.set("x-test-id", id);
  if (c.behaviour) metadata.set("x-test-behaviour", c.behaviour);
  if (c.headers?.["x-custom"]) metadata.set("x-custom", c.headers["x-custom"]);
  const callOptions: grpc.CallOptions = c.timeoutMs ? { deadline: Date.now() + c.timeoutMs } : {};
  let value: Buffer | undefined;
  let header: grpc.Metadata | undefined;
  const status = await new Promise<grpc.StatusObject>((resolve) => {
    const call = client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(c.input ?? generateRequest()),
      metadata,
      callOptions,
      (_err, v) => {
        value = v;
      },
    );
    call.on("metadata", (m) => {
      header = m;
    });
    call.on("status", resolve);
    if (c.cancelAfterMs) setTimeout(() => call.cancel(), c.cancelAfterMs);
  });
  await sleep(0); // the callback runs after 'status'
  return {
    status: status.code,
    // grpc-js words a deadline it enforces itself with its own timings and the server's port.
    details: status.details.replace(/^Deadline exceeded after .*$/s, "Deadline exceeded after …"),
    value: value?.toString("hex"),
    header: metadataJson(header),
    trailer: metadataJson(status.metadata),
  };
}

async function viaRaw(server: TestServer, c: Case, id: string) {
  const session = http2.connect(`http://${server.address}`);
  session.on("error", () => {});
  try {
    const headers: http2.OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": c.path ?? `/${(c.method ?? GENERATE).parent.typeName}/${(c.method ?? GENERATE).name}`,
      "content-type": "application/grpc",
      te: "trailers",
      "x-test-id": id,
    };
    if (c.behaviour) headers["x-test-behaviour"] = c.behaviour;
    for (const [k, v] of Object.entries(c.headers ?? {})) {
      if (v === undefined) delete headers[k];
      else headers[k] = v;
    }
    const stream = session.request(headers, { endStream: false });
    stream.on("error", () => {});
    let response: string[] | undefined;
    let trailers: string[] | undefined;
    const body: Buffer[] = [];
    // Raw headers keep the wire order; date differs by the second.
    const withoutDate = (raw: string[]) =>
      raw.flatMap((v, i) => (i % 2 === 0 && raw[i] !== "date" ? [`${v}: ${raw[i + 1]}`] : []));
    // @types/node leaves out the raw headers argument that Node passes.
    stream.on("response", ((_h: unknown, _f: unknown, raw: string[]) => {
      response = withoutDate(raw);
    }) as never);
    stream.on("trailers", ((_h: unknown, _f: unknown, raw: string[]) => {
      trailers = withoutDate(raw);
    }) as never);
    stream.on("data", (chunk: Buffer) => body.push(chunk));
    const closed = new Promise<number>((resolve) => stream.on("close", () => resolve(stream.rstCode)));
    if (c.cancelAfterMs) setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), c.cancelAfterMs);
    const payload = c.body ?? frame(c.input ?? generateRequest());
    if (Array.isArray(payload)) {
      for (const chunk of payload) {
        stream.write(chunk);
        await sleep(10);
      }
      stream.end();
    } else {
      stream.end(payload);
    }
    const rstCode = await closed;
    const grpcStatus = [...(trailers ?? []), ...(response ?? [])].find((l) => l.startsWith("grpc-status: "));
    return {
      status: grpcStatus === undefined ? undefined : Number(grpcStatus.slice(13)),
      response,
      body: Buffer.concat(body).toString("hex"),
      trailers,
      rstCode,
    };
  } finally {
    session.close();
  }
}

async function call(clients: Clients, kind: ClientKind, server: TestServer, c: Case, id: string) {
  switch (kind) {
    case "connect":
      return viaConnect(clients, server, c, id);
    case "grpc-js":
      return viaGrpcJs(clients, server, c, id);
    case "raw":
      return viaRaw(server, c, id);
  }
}

/** Waits until the implementation has finished with the call, if it ran. */
async function settled(log: ObservationLog, id: string): Promise<Observation | undefined> {
  for (let i = 0; i < 100 && log.has(id) && !log.get(id)?.done; i++) await sleep(10);
  // A handler that records after it returned (never here) would race; its record is final now.
  const o = log.get(id);
  return o && { ...o };
}

function runCases(
  title: string,
  cases: Case[],
  extra: Partial<FastConnectNodeAdapterOptions>,
  check?: (c: Case, outcome: unknown) => void,
) {
  describe(title, () => {
    let stock: TestServer;
    let fast: TestServer;
    const clients = new Clients();
    before(async () => {
      [stock, fast] = await Promise.all([startServer("stock", extra), startServer("fast", extra)]);
    });
    after(async () => {
      clients.close();
      await Promise.all([stock.close(), fast.close()]);
    });

    for (const c of cases) {
      for (const kind of c.clients ?? ALL_CLIENTS) {
        it(`${c.name} (${kind})`, async () => {
          const id = randomUUID();
          const expected = await call(clients, kind, stock, c, id);
          const before = { ...(fast.stats as GrpcUnaryFastPathStats) };
          const actual = await call(clients, kind, fast, c, id);
          if (c.racy && kind !== "raw") {
            assert.equal(actual.status, expected.status, JSON.stringify({ actual, expected }));
          } else {
            assert.deepEqual(actual, expected);
          }
          const delta = {
            fast: (fast.stats?.fast ?? 0) - before.fast,
            fallback: (fast.stats?.fallback ?? 0) - before.fallback,
          };
          assert.deepEqual(delta, c.served === "fast" ? { fast: 1, fallback: 0 } : { fast: 0, fallback: 1 });
          // A raw client that resets its stream gets no status at all.
          if (c.status !== undefined && !(kind === "raw" && c.cancelAfterMs)) {
            assert.equal(expected.status, c.status, JSON.stringify(expected));
          }
          const [o1, o2] = await Promise.all([settled(stock.log, id), settled(fast.log, id)]);
          if (c.racy && kind !== "raw") {
            assert.equal(o2?.invoked, o1?.invoked);
            c.observe?.(o2, kind);
          } else {
            assert.deepEqual(o2, o1);
          }
          c.observe?.(o1, kind);
          check?.(c, expected);
        });
      }
    }
  });
}

runCases("fast path = connect-node, as connect-es, grpc-js and raw HTTP/2 see it", CASES, {});

runCases(
  "fast path = connect-node with interceptors and context values",
  [
    { name: "a success through an interceptor", behaviour: "headers", served: "fast", status: 0 },
    {
      name: "the context through an interceptor",
      behaviour: "echo",
      headers: { "x-user": "ada", "x-custom": "c" },
      served: "fast",
      status: 0,
    },
    {
      name: "an error through an interceptor",
      behaviour: "status=NotFound",
      served: "fast",
      status: Code.NotFound,
    },
    {
      name: "a deadline through an interceptor",
      behaviour: "wait-signal",
      timeoutMs: 100,
      headers: { "grpc-timeout": "100m" },
      served: "fast",
      status: Code.DeadlineExceeded,
      racy: true,
      observe: deadlineFired,
    },
  ],
  {
    interceptors: [testInterceptor],
    contextValues: (req) => createContextValues().set(kUser, String(req.headers["x-user"] ?? "nobody")),
  },
  (c, outcome) => {
    // The interceptor really ran (its header is there), on both.
    if (c.status === 0 && c.behaviour !== "echo") assert.match(JSON.stringify(outcome), /x-intercepted/);
  },
);

describe("fast path wiring", () => {
  it("declines every call when turned off: plain connect-node", () => {
    const handler = fastConnectNodeAdapter({ routes: testRoutes(new Map()), fastPath: false });
    assert.equal(handler.grpcUnaryFastPath, undefined);
  });

  it("serves fast only unary methods, and runs routes once", () => {
    let runs = 0;
    const handler = fastConnectNodeAdapter({
      routes(router) {
        runs++;
        testRoutes(new Map())(router);
      },
    });
    assert.equal(runs, 1);
    assert.deepEqual([...(handler.grpcUnaryFastPath?.paths ?? [])].sort(), [
      "/grpc.health.v1.Health/Check",
      "/rng.Rng/Rng",
      "/rng.v1.RngService/Generate",
    ]);
  });

  it("leaves services registered with grpc: false or a requestGate to connect-node", () => {
    const routes = testRoutes(new Map());
    const handler = fastConnectNodeAdapter({
      routes(router) {
        routes({
          ...router,
          handlers: router.handlers,
          service: (service, impl) =>
            router.service(
              service,
              impl,
              // `grpc` is read by connect's router but missing from the option type.
              service.typeName === "rng.Rng" ? ({ grpc: false } as never) : { requestGate() {} },
            ),
          rpc: router.rpc,
        });
      },
    });
    assert.deepEqual(handler.grpcUnaryFastPath?.paths, []);
  });

  it("keeps a 'request' listener added later from double-handling streams", async () => {
    const handler = fastConnectNodeAdapter({
      routes: testRoutes(new Map()),
      fallback: unknownMethodFallback,
    });
    const server = createHttp2Server({}, handler);
    let requests = 0;
    server.on("request", () => requests++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const testServer: TestServer = { address, log: new Map(), stats: undefined, close: async () => {} };
    const ok = await viaRaw(
      testServer,
      { name: "", method: LEGACY, input: new Uint8Array(), served: "fast" },
      "x",
    );
    assert.equal(ok.status, 0);
    assert.equal(requests, 0, "a fast call emits no 'request'");
    const r = await viaRaw(testServer, { name: "", path: "/nope.Nope/Nope", served: "fallback" }, "y");
    assert.equal(r.status, Code.Unimplemented);
    assert.equal(requests, 1, "a fallback call is emitted once");
    await new Promise((resolve) => server.close(resolve));
  });
});

/**
 * Closes `server` and every HTTP/2 session it has, so that no client's
 * idle connection keeps the process (and the test file) alive.
 */
function trackSessions(server: http2.Http2Server): () => Promise<void> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });
  return async () => {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const session of sessions) session.destroy();
    await closed;
  };
}

/** A raw TCP connection to `port`, reading and dropping what the server sends. */
async function rawConnection(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.resume();
  await once(socket, "connect");
  return socket;
}

describe("createHttp2Server: streams reset or failed in the packet that opened them", () => {
  it("never reach the general path ('request'), which costs ~80 KiB per call; later calls still do", async () => {
    const handler = fastConnectNodeAdapter({
      routes: testRoutes(new Map()),
      fallback: unknownMethodFallback,
    });
    const server = createHttp2Server({}, handler);
    const closeServer = trackSessions(server);
    let requests = 0;
    server.on("request", () => requests++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const socket = await rawConnection(port);
    try {
      // A general-path call each (no fast path serves an unknown method), reset at once.
      const block = postHeaderBlock("/nope.Nope/Nope", { "content-type": "application/grpc" });
      const cancel = Buffer.alloc(4);
      cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
      const frames: Buffer[] = [HTTP2_HELLO];
      for (let i = 0, id = 1; i < 200; i++, id += 2) {
        frames.push(
          h2Frame(FrameType.HEADERS, FrameFlag.END_HEADERS, id, block),
          h2Frame(FrameType.RST_STREAM, 0, id, cancel),
        );
      }
      socket.write(Buffer.concat(frames));
      await sleep(300);
      assert.equal(requests, 0, "a stream reset in its own packet should cost no call");
      // The same connection, and the general path, still serve.
      const address = `127.0.0.1:${port}`;
      const testServer: TestServer = { address, log: new Map(), stats: undefined, close: async () => {} };
      const r = await viaRaw(testServer, { name: "", path: "/nope.Nope/Nope", served: "fallback" }, "z");
      assert.equal(r.status, Code.Unimplemented);
      assert.equal(requests, 1);
    } finally {
      socket.destroy();
      await closeServer();
    }
  });

  it("still answer a request whose empty body ends with its HEADERS, many on one connection", async () => {
    // The request is handed on a turn after 'stream'; a stream with
    // END_STREAM on its HEADERS can end before that, and its compat request
    // must see the end (a binary Connect call with an empty message).
    const handler = fastConnectNodeAdapter({
      routes: testRoutes(new Map()),
      fallback: unknownMethodFallback,
    });
    const server = createHttp2Server({}, handler);
    const closeServer = trackSessions(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const useBinaryFormat of [true, false]) {
        const transport = createConnectTransport({
          baseUrl: `http://127.0.0.1:${port}`,
          httpVersion: "2",
          useBinaryFormat,
        });
        for (let i = 0; i < 10; i++) {
          const answer = await createClient(Rng, transport).rng({}, { timeoutMs: 2000 });
          assert.equal(answer.RN, -5n, `call ${i} (${useBinaryFormat ? "binary" : "JSON"})`);
        }
      }
    } finally {
      await closeServer();
    }
  });

  it("leave no stream error uncaught (wire-fuzz seed 187868163)", async () => {
    const handler = fastConnectNodeAdapter({
      routes: testRoutes(new Map()),
      fallback: unknownMethodFallback,
    });
    const server = createHttp2Server({}, handler);
    const closeServer = trackSessions(server);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", onUncaught);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const socket = await rawConnection(port);
    try {
      socket.write(
        Buffer.concat([
          HTTP2_HELLO,
          h2Frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, postHeaderBlock("/nope.Nope/Nope")),
          h2Frame(FrameType.DATA, 0, 1, Buffer.from("{}")),
          h2Frame(FrameType.DATA, 0, 0), // DATA on stream 0: a connection error (PROTOCOL_ERROR)
        ]),
      );
      await Promise.race([once(socket, "close"), sleep(2000)]);
      await sleep(50);
      assert.deepEqual(uncaught, [], "a stream error escaped as an uncaught exception");
    } finally {
      process.off("uncaughtException", onUncaught);
      socket.destroy();
      await closeServer();
    }
  });
});

/** A trailer hook like the ORCA reporter's: a fixed trailer, always or on request, and its call counts. */
function testTrailerHook(mode: "always" | "on-request") {
  const counts = { ok: 0, failed: 0 };
  const hook: UnaryTrailerHook = {
    trailerName: "endpoint-load-metrics-bin",
    recordCall: (failed) => {
      if (failed) counts.failed++;
      else counts.ok++;
    },
    trailerValue: (header) =>
      mode === "always" || header("endpoint-load-metrics-format") !== undefined ? "CAESAggD" : undefined,
  };
  return { hook, counts };
}

for (const mode of ["always", "on-request"] as const) {
  const { hook } = testTrailerHook(mode);
  const asked = mode === "on-request" ? { headers: { "endpoint-load-metrics-format": "BIN" } } : {};
  runCases(
    `fast path = connect-node with a trailer hook (${mode}; an ORCA reporter's shape)`,
    [
      { name: "a success gets the trailer", served: "fast", status: 0, clients: ["raw"], ...asked },
      {
        name: "a success with the handler's own trailers",
        behaviour: "headers",
        served: "fast",
        status: 0,
        clients: ["raw"],
        ...asked,
      },
      {
        name: "an error status gets the trailer",
        behaviour: "status=NotFound",
        served: "fast",
        status: Code.NotFound,
        clients: ["raw"],
        ...asked,
      },
      {
        name: "a handler that throws a plain Error: INTERNAL, no message leaks",
        behaviour: "throw",
        served: "fast",
        status: Code.Internal,
        clients: ["raw"],
        ...asked,
      },
      {
        name: "a malformed request never reaches the hook",
        body: Buffer.from([0, 0, 0, 0, 9, 1]),
        served: "fast",
        status: Code.InvalidArgument,
        clients: ["raw"],
        ...asked,
      },
      { name: "a call without the request header", served: "fast", status: 0, clients: ["raw"] },
    ],
    { trailerHook: hook },
    (c, outcome) => {
      const wanted = mode === "always" || c.headers !== undefined;
      const reached = c.body === undefined;
      const trailers = JSON.stringify((outcome as { trailers?: string[] }).trailers ?? []);
      if (wanted && reached) assert.match(trailers, /endpoint-load-metrics-bin: CAESAggD/, trailers);
      else assert.doesNotMatch(trailers, /endpoint-load-metrics-bin/);
    },
  );
}

describe("trailer hook counts", () => {
  it("counts each call once, on either path, as connect-node's interceptor does", async () => {
    const counts: Record<string, { ok: number; failed: number }> = {};
    for (const kind of ["stock", "fast"] as const) {
      const { hook, counts: c } = testTrailerHook("always");
      counts[kind] = c;
      const server = await startServer(kind, { trailerHook: hook });
      try {
        for (const behaviour of ["", "status=NotFound", "throw", "async"]) {
          await viaRaw(server, { name: behaviour, behaviour, served: "fast" }, randomUUID());
        }
        await viaRaw(
          server,
          { name: "bad", body: Buffer.from([0, 0, 0, 0, 9, 1]), served: "fast" },
          randomUUID(),
        );
      } finally {
        await server.close();
      }
    }
    assert.deepEqual(counts.fast, counts.stock);
    assert.deepEqual(counts.fast, { ok: 2, failed: 2 });
  });
});
