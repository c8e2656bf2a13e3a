/**
 * The fast path's Connect-protocol unary calls against connect-node itself:
 * the same requests sent to a reference server and to a server with the
 * fast path, and the answers required to be identical byte for byte as
 * each client sees them: a raw node:http2 client (status, headers in wire
 * order minus date, body bytes, reset code), a raw HTTP/1.1 client over
 * node:net (the whole response minus its Date line), connect-es's
 * createConnectTransport (binary and JSON, over HTTP/2 and HTTP/1.1), and
 * a browser-style `fetch` (Node's global fetch, HTTP/1.1). Every case runs
 * over HTTP/2 and HTTP/1.1 alike: a case written for the raw HTTP/2 client
 * also runs with the raw HTTP/1.1 one, and one for connect-es over HTTP/2
 * also with connect-es over HTTP/1.1. Each case says which path must serve
 * it on the fast server, from the fast path's counters (`http1` counts the
 * HTTP/1.1 calls served fast), so the suite fails if calls silently fall
 * back. Further suites run keep-alive connections (several requests,
 * pipelined, unread bodies drained or the connection closed) and many
 * aborted calls.
 *
 * The reference is stock connect-node (connectNodeAdapter on
 * http2.createServer and http.createServer), and, for the hardening the
 * server adds (JSON limits, a trailer hook), this package's own handler
 * with the fast path turned off.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import {
  create,
  createFileRegistry,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { FileDescriptorProtoSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  type ConnectTransportOptions,
  connectNodeAdapter,
  createConnectTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { RngService } from "@rngbalance/proto";
import { file_rng_v1_rng_service, GenerateRequestSchema } from "@rngbalance/proto/rng/v1";
import { createConnectHandler } from "../src/connect-handler.js";
import {
  createHttp2Server,
  fastConnectNodeAdapter,
  type GrpcUnaryFastPathStats,
  trailerHookInterceptor,
  type UnaryTrailerHook,
} from "../src/fast/index.js";
import { createUnknownMethodFallback } from "../src/unknown-method.js";
import { behave, type ObservationLog, testRoutes } from "./fast-service.js";

/** A service with one NO_SIDE_EFFECTS method (Connect GET), on the Rng messages. */
const GetService: DescService = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "test/v1/get.proto",
    package: "test.v1",
    dependency: ["rng/v1/rng_service.proto"],
    syntax: "proto3",
    service: [
      {
        name: "GetService",
        method: [
          {
            name: "Generate",
            inputType: ".rng.v1.GenerateRequest",
            outputType: ".rng.v1.GenerateResponse",
            options: { idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS },
          },
        ],
      },
    ],
  }),
  (name) => (name === "rng/v1/rng_service.proto" ? file_rng_v1_rng_service : undefined),
).getService("test.v1.GetService") as DescService;

const GENERATE = RngService.method.generate as unknown as DescMethodUnary;
const GET_GENERATE = GetService.methods[0] as DescMethodUnary;
const GENERATE_PATH = "/rng.v1.RngService/Generate";
const GET_PATH = "/test.v1.GetService/Generate";

function routes(log: ObservationLog): (router: ConnectRouter) => void {
  const base = testRoutes(log);
  return (router) => {
    base(router);
    router.service(GetService, {
      async generate(request: { delayMs: number }, ctx: HandlerContext) {
        const instance = await behave(log, ctx, `delay=${request.delayMs}`);
        return { rn: 42n, instance };
      },
    } as never);
  };
}

const unknownMethodFallback = createUnknownMethodFallback(["rng.v1.RngService", "test.v1.GetService"]);

const protoBody = (delayMs = 3) =>
  Buffer.from(toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { delayMs })));
const jsonBody = (delayMs = 3) => Buffer.from(JSON.stringify({ delayMs }));

type RawKind = "h2" | "h1" | "fetch";
type ConnectKind = "connect-h2-proto" | "connect-h2-json" | "connect-h1-proto" | "connect-h1-json";
type ClientKind = RawKind | ConnectKind;

/** One call, sent alike to both servers. */
interface Case {
  name: string;
  /** Raw clients: HTTP method; default POST. */
  method?: "POST" | "GET";
  /** Raw clients: the path (with query); default GENERATE_PATH. */
  path?: string;
  /** Raw clients: headers (undefined removes a default). Default content-type application/proto. */
  headers?: Record<string, string | undefined>;
  /** Raw clients: the body; default a binary GenerateRequest. An array is written chunk by chunk. */
  body?: Buffer | Buffer[];
  /** The `x-test-behaviour` header. */
  behaviour?: string;
  /** connect-es: the method (default Generate), the timeout and transport options. */
  rpc?: DescMethodUnary;
  timeoutMs?: number;
  transport?: Partial<ConnectTransportOptions>;
  /** Raw clients: reset the stream (CANCEL; HTTP/1.1: destroy the socket) after this long. */
  cancelAfterMs?: number;
  /** Raw HTTP/1.1: send the body with `transfer-encoding: chunked` (one chunk per array element), without content-length. */
  chunked?: boolean;
  clients: ClientKind[];
  /** On HTTP/2, which path must serve the call on the fast server. */
  served: "fast" | "fallback";
  /** The HTTP status (raw clients) every reference answer must have. */
  status?: number;
  /** Only "the call ended the same way" is compared (a deadline races the client). */
  racy?: boolean;
}

const RAW_H2: ClientKind[] = ["h2"];
const ALL_RAW: ClientKind[] = ["h2", "h1", "fetch"];
const CONNECT: ClientKind[] = ["connect-h2-proto", "connect-h2-json", "connect-h1-proto", "connect-h1-json"];
const EVERYONE: ClientKind[] = [...ALL_RAW, ...CONNECT];
const json = { "content-type": "application/json" };

/** A valid binary request (delay_ms 0) padded with an unknown field to `bytes` bytes. */
function bigRequest(bytes: number): Buffer {
  const filler = bytes - 3;
  return Buffer.from([0x7a, 0x80 | (filler & 0x7f), filler >> 7, ...new Uint8Array(filler).fill(1)]);
}

const b64 = (bytes: Uint8Array) => base64Encode(bytes, "url");

const CASES: Case[] = [
  // --- successes ---------------------------------------------------------------------------------
  { name: "a plain success", clients: EVERYONE, served: "fast", status: 200 },
  { name: "JSON", headers: json, body: jsonBody(), clients: ALL_RAW, served: "fast", status: 200 },
  {
    name: "JSON with charset, unknown fields ignored",
    headers: { "content-type": "application/json; charset=utf-8" },
    body: Buffer.from('{"delayMs":1,"nope":[1,{"a":2}]}'),
    clients: ALL_RAW,
    served: "fast",
    status: 200,
  },
  {
    name: "binary with an unknown field",
    body: Buffer.concat([protoBody(), Buffer.from([0x7a, 2, 1, 2])]),
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "headers and trailers set by the handler (trailer- headers)",
    behaviour: "headers",
    clients: EVERYONE,
    served: "fast",
    status: 200,
  },
  {
    name: "the context a handler sees",
    behaviour: "echo",
    headers: { "connect-timeout-ms": "30000", "x-custom": "c" },
    clients: ALL_RAW,
    served: "fast",
    status: 200,
  },
  { name: "an empty request body", body: Buffer.alloc(0), clients: RAW_H2, served: "fast", status: 200 },
  {
    name: "a body split over several DATA frames",
    body: [Buffer.from([0x08]), Buffer.from([0x03])],
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "a body split over several DATA frames, with content-length",
    headers: { "content-length": "2" },
    body: [Buffer.from([0x08]), Buffer.from([0x03])],
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "connect-protocol-version 1",
    headers: { "connect-protocol-version": "1" },
    clients: ALL_RAW,
    served: "fast",
    status: 200,
  },
  // --- compression -----------------------------------------------------------------------------
  {
    name: "a response compressed as accept-encoding asks (2000 bytes)",
    behaviour: "size=2000",
    headers: { "accept-encoding": "gzip, br" },
    clients: [...ALL_RAW, "connect-h2-proto", "connect-h2-json"],
    served: "fast",
    status: 200,
  },
  {
    name: "a JSON response compressed (br first)",
    behaviour: "size=2000",
    headers: { ...json, "accept-encoding": "br" },
    body: jsonBody(),
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "a response below compressMinBytes",
    behaviour: "size=10",
    headers: { "accept-encoding": "gzip" },
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "an accept-encoding the server does not know",
    headers: { "accept-encoding": "zstd, snappy" },
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "a gzip-compressed request (content-encoding gzip)",
    headers: { "content-encoding": "gzip" },
    body: gzipSync(protoBody()),
    transport: { sendCompression: undefined },
    clients: ALL_RAW,
    served: "fallback",
    status: 200,
  },
  {
    name: "an unsupported content-encoding",
    headers: { "content-encoding": "snappy" },
    clients: ALL_RAW,
    served: "fallback",
    status: 501,
  },
  {
    name: "content-encoding identity",
    headers: { "content-encoding": "identity" },
    clients: RAW_H2,
    served: "fast",
  },
  // --- errors ----------------------------------------------------------------------------------
  ...Array.from(
    { length: 16 },
    (_, i): Case => ({
      name: `status ${Code[i + 1]}: message, details, metadata`,
      behaviour: `status=${Code[i + 1]}`,
      clients: ["h2", "connect-h2-proto", "connect-h2-json"],
      served: "fast",
    }),
  ),
  {
    name: "an error with details (HTTP/1.1 and fetch)",
    behaviour: "status=NotFound",
    clients: ["h1", "fetch", "connect-h1-json"],
    served: "fast",
    status: 404,
  },
  {
    name: "an async handler that fails, JSON",
    behaviour: "async;status=PermissionDenied",
    headers: json,
    body: jsonBody(),
    clients: RAW_H2,
    served: "fast",
    status: 403,
  },
  {
    name: "a plain Error",
    behaviour: "throw",
    clients: ["h2", "connect-h2-proto"],
    served: "fast",
    status: 500,
  },
  {
    name: "headers and trailers set, then an error",
    behaviour: "headers;status=Aborted",
    clients: ["h2", "connect-h2-json"],
    served: "fast",
    status: 409,
  },
  {
    name: "a response over writeMaxBytes",
    behaviour: "size=5000",
    clients: ["h2", "connect-h2-proto"],
    served: "fast",
    status: 429,
  },
  // --- deadlines and cancellation -----------------------------------------------------------------
  {
    name: "a deadline that passes while the handler waits",
    behaviour: "wait-signal",
    headers: { "connect-timeout-ms": "100" },
    clients: RAW_H2,
    served: "fast",
    status: 504,
    racy: true,
  },
  {
    name: "a deadline through connect-es",
    behaviour: "wait-signal",
    timeoutMs: 100,
    clients: ["connect-h2-proto", "connect-h2-json"],
    served: "fast",
    racy: true,
  },
  {
    name: "connect-timeout-ms 0: the signal is aborted from the start",
    behaviour: "late-signal=0",
    headers: { "connect-timeout-ms": "0" },
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "an invalid connect-timeout-ms",
    headers: { "connect-timeout-ms": "soon" },
    clients: ALL_RAW,
    served: "fallback",
    status: 400,
  },
  {
    name: "a connect-timeout-ms of 11 digits",
    headers: { "connect-timeout-ms": "12345678901" },
    clients: RAW_H2,
    served: "fallback",
    status: 400,
  },
  {
    name: "a connect-timeout-ms over Node's timer range (clamped)",
    headers: { "connect-timeout-ms": "9999999999" },
    behaviour: "echo",
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "a client that cancels while the handler waits",
    behaviour: "wait-signal",
    cancelAfterMs: 50,
    clients: RAW_H2,
    served: "fast",
  },
  // --- limits and malformed bodies -------------------------------------------------------------
  {
    name: "a body over readMaxBytes, without content-length",
    body: bigRequest(2000),
    chunked: true,
    clients: RAW_H2,
    served: "fast",
    status: 429,
  },
  {
    name: "a body over readMaxBytes in two DATA frames",
    body: [bigRequest(2000).subarray(0, 1000), bigRequest(2000).subarray(1000)],
    chunked: true,
    clients: RAW_H2,
    served: "fast",
    status: 429,
  },
  {
    name: "a body over readMaxBytes, with content-length (answered before reading)",
    headers: { "content-length": "2000" },
    body: bigRequest(2000),
    clients: ALL_RAW,
    served: "fallback",
    status: 429,
  },
  {
    name: "malformed protobuf",
    body: Buffer.from([0x0a, 0xff, 0x01, 0x02]),
    clients: ALL_RAW,
    served: "fast",
    status: 500,
  },
  {
    name: "malformed JSON",
    headers: json,
    body: Buffer.from("{"),
    clients: ALL_RAW,
    served: "fast",
    status: 400,
  },
  {
    name: "JSON of the wrong type",
    headers: json,
    body: Buffer.from('{"delayMs":"soon"}'),
    clients: RAW_H2,
    served: "fast",
    status: 400,
  },
  {
    name: "JSON that is not UTF-8",
    headers: json,
    body: Buffer.from([0x7b, 0xff, 0x7d]),
    clients: RAW_H2,
    served: "fast",
  },
  // --- what connect-node answers -------------------------------------------------------------------
  {
    name: "content-type text/plain",
    headers: { "content-type": "text/plain" },
    clients: ALL_RAW,
    served: "fallback",
    status: 415,
  },
  {
    name: "content-type application/connect+proto on a unary method",
    headers: { "content-type": "application/connect+proto" },
    clients: RAW_H2,
    served: "fallback",
  },
  {
    name: "content-type missing",
    headers: { "content-type": undefined },
    clients: RAW_H2,
    served: "fallback",
  },
  {
    name: "an unknown method",
    path: "/rng.v1.RngService/Nope",
    clients: ALL_RAW,
    served: "fallback",
    status: 404,
  },
  { name: "PUT", method: "PUT" as never, clients: RAW_H2, served: "fallback", status: 405 },
  // --- GET -----------------------------------------------------------------------------------------
  {
    name: "GET, proto, base64",
    method: "GET",
    path: `${GET_PATH}?encoding=proto&base64=1&message=${b64(protoBody())}&connect=v1`,
    headers: { "content-type": undefined },
    clients: ALL_RAW,
    served: "fast",
    status: 200,
  },
  {
    name: "GET, JSON",
    method: "GET",
    path: `${GET_PATH}?encoding=json&message=${encodeURIComponent('{"delayMs":2}')}`,
    headers: { "content-type": undefined },
    clients: ALL_RAW,
    served: "fast",
    status: 200,
  },
  {
    name: "GET, JSON, base64, with an error and headers",
    method: "GET",
    behaviour: "headers;status=Unavailable",
    path: `${GET_PATH}?encoding=json&base64=1&message=${b64(jsonBody())}`,
    headers: { "content-type": undefined },
    clients: ALL_RAW,
    served: "fast",
    status: 503,
  },
  {
    name: "GET without a message (an empty one)",
    method: "GET",
    path: `${GET_PATH}?encoding=proto`,
    headers: { "content-type": undefined },
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "GET with a malformed message",
    method: "GET",
    path: `${GET_PATH}?encoding=json&message=%7B`,
    headers: { "content-type": undefined },
    clients: ALL_RAW,
    served: "fast",
    status: 400,
  },
  {
    name: "GET with a compressed response",
    method: "GET",
    behaviour: "size=3000",
    path: `${GET_PATH}?encoding=proto&base64=1&message=${b64(protoBody())}`,
    headers: { "content-type": undefined, "accept-encoding": "gzip" },
    clients: RAW_H2,
    served: "fast",
    status: 200,
  },
  {
    name: "GET without encoding",
    method: "GET",
    path: `${GET_PATH}?message=x`,
    headers: { "content-type": undefined },
    clients: ALL_RAW,
    served: "fallback",
    status: 415,
  },
  {
    name: "GET with compression=gzip",
    method: "GET",
    path: `${GET_PATH}?encoding=proto&compression=gzip&base64=1&message=${b64(gzipSync(protoBody()))}`,
    headers: { "content-type": undefined },
    clients: RAW_H2,
    served: "fallback",
    status: 200,
  },
  {
    name: "GET on a method without NO_SIDE_EFFECTS",
    method: "GET",
    path: `${GENERATE_PATH}?encoding=proto&message=`,
    headers: { "content-type": undefined },
    clients: ALL_RAW,
    served: "fallback",
    status: 405,
  },
  {
    name: "GET with a fragment in the path",
    method: "GET",
    path: `${GET_PATH}?encoding=json&message=%7B%7D#x`,
    headers: { "content-type": undefined },
    clients: RAW_H2,
    served: "fallback",
  },
  {
    name: "POST to the NO_SIDE_EFFECTS method",
    path: GET_PATH,
    clients: ALL_RAW,
    served: "fast",
    status: 200,
  },
];

/** A server pair member under test. */
interface TestServer {
  readonly h2: string;
  readonly h1: string;
  readonly log: ObservationLog;
  readonly stats: GrpcUnaryFastPathStats | undefined;
  /** HTTP/1.1 connections the server has accepted, and how many are open now. */
  h1Connections(): { accepted: number; open: number };
  /** Sum of the request bytes charged (HTTP/1.1, with `chargeLimit`): 0 once every call let go of its body. */
  readonly charged: { held: number; refused: number };
  close(): Promise<void>;
}

/** stock: connectNodeAdapter; ours-*: createConnectHandler without/with the fast path; adapter-fast: fastConnectNodeAdapter. */
type Flavour = "stock" | "ours-slow" | "ours-fast" | "adapter-fast";
interface Extra {
  readonly json?: { readMaxBytes: number; maxDepth: number };
  readonly trailerHook?: UnaryTrailerHook;
  readonly requireConnectProtocolHeader?: boolean;
  /** This server's handler charges HTTP/1.1 request bytes, refusing a request's bytes beyond this many. */
  readonly chargeLimit?: number;
}

async function startServer(flavour: Flavour, extra: Extra): Promise<TestServer> {
  const log: ObservationLog = new Map();
  const common = {
    routes: routes(log),
    readMaxBytes: 1024,
    writeMaxBytes: 4096,
    fallback: unknownMethodFallback,
    ...(extra.requireConnectProtocolHeader ? { requireConnectProtocolHeader: true } : {}),
  };
  let handler:
    | ReturnType<typeof createConnectHandler>
    | ReturnType<typeof connectNodeAdapter>
    | ReturnType<typeof fastConnectNodeAdapter>;
  let h2: http2.Http2Server;
  let stats: GrpcUnaryFastPathStats | undefined;
  const charged = { held: 0, refused: 0 };
  const limit = extra.chargeLimit;
  // As Http1Connections' requestCharger: HTTP/1.1 only, each request's bytes against its limit.
  const chargeRequestBytes = (req: http.IncomingMessage | http2.Http2ServerRequest) => {
    if (limit === undefined || req.httpVersionMajor !== 1) return undefined;
    let held = 0;
    return (delta: number) => {
      held += delta;
      charged.held += delta;
      if (held <= limit) return true;
      charged.refused++;
      return false;
    };
  };
  if (flavour === "stock") {
    const interceptors = extra.trailerHook ? [trailerHookInterceptor(extra.trailerHook)] : [];
    handler = connectNodeAdapter({ ...common, interceptors });
    h2 = http2.createServer({}, handler);
  } else if (flavour === "adapter-fast") {
    const adapter = fastConnectNodeAdapter({
      ...common,
      ...(extra.trailerHook ? { trailerHook: extra.trailerHook } : {}),
    });
    handler = adapter;
    stats = adapter.grpcUnaryFastPath?.stats;
    h2 = createHttp2Server({}, adapter);
  } else {
    const ours = createConnectHandler({
      ...common,
      json: extra.json ?? { readMaxBytes: 2 ** 30, maxDepth: 10_000 },
      telemetry: false,
      fastPath: flavour === "ours-fast",
      ...(extra.trailerHook ? { trailerHook: extra.trailerHook } : {}),
      chargeRequestBytes,
    });
    handler = ours;
    stats = ours.grpcUnaryFastPath?.stats;
    h2 = createHttp2Server({}, ours);
  }
  const h1 = http.createServer(handler);
  let accepted = 0;
  const open = new Set<net.Socket>();
  h1.on("connection", (socket: net.Socket) => {
    accepted++;
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
    s.once("close", () => sessions.delete(s));
  });
  await Promise.all([
    new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve)),
    new Promise<void>((resolve) => h1.listen(0, "127.0.0.1", resolve)),
  ]);
  return {
    h2: `127.0.0.1:${(h2.address() as AddressInfo).port}`,
    h1: `127.0.0.1:${(h1.address() as AddressInfo).port}`,
    log,
    stats,
    charged,
    h1Connections: () => ({ accepted, open: open.size }),
    async close() {
      for (const s of sessions) s.destroy();
      h1.closeAllConnections();
      await Promise.all([new Promise((r) => h2.close(r)), new Promise((r) => h1.close(r))]);
    },
  };
}

function requestHeaders(c: Case, id: string): Record<string, string> {
  const headers: Record<string, string | undefined> = {
    "content-type": "application/proto",
    "x-test-id": id,
    ...(c.behaviour ? { "x-test-behaviour": c.behaviour } : {}),
    ...c.headers,
  };
  return Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
}

const bodyOf = (c: Case): Buffer | Buffer[] | undefined =>
  (c.method ?? "POST") === "GET" ? undefined : (c.body ?? protoBody());

/** Error JSON whose details' debug field is an object: compared parsed, as text otherwise. */
const portless = (s: string) => s.replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>");

async function viaH2(server: TestServer, c: Case, id: string) {
  const session = http2.connect(`http://${server.h2}`);
  session.on("error", () => {});
  try {
    const stream = session.request(
      {
        ":method": c.method ?? "POST",
        ":path": c.path ?? GENERATE_PATH,
        ...requestHeaders(c, id),
      },
      { endStream: (c.method ?? "POST") === "GET" },
    );
    stream.on("error", () => {});
    let response: string[] | undefined;
    const body: Buffer[] = [];
    stream.on("response", ((_h: unknown, _f: unknown, raw: string[]) => {
      response = raw.flatMap((v, i) => (i % 2 === 0 && v !== "date" ? [`${v}: ${raw[i + 1]}`] : []));
    }) as never);
    stream.on("data", (chunk: Buffer) => body.push(chunk));
    const closed = new Promise<number>((resolve) => stream.on("close", () => resolve(stream.rstCode)));
    if (c.cancelAfterMs) setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), c.cancelAfterMs);
    const payload = bodyOf(c);
    if (Array.isArray(payload)) {
      for (const chunk of payload) {
        stream.write(chunk);
        await sleep(10);
      }
      stream.end();
    } else if (payload !== undefined) {
      stream.end(payload);
    }
    const rstCode = await closed;
    const status = response?.find((l) => l.startsWith(":status: "));
    return {
      status: status === undefined ? undefined : Number(status.slice(9)),
      response,
      body: portless(Buffer.concat(body).toString("latin1")),
      rstCode,
    };
  } finally {
    session.close();
  }
}

async function viaH1(server: TestServer, c: Case, id: string) {
  const [host, port] = server.h1.split(":") as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (chunk) => chunks.push(chunk));
  const done = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const payload = bodyOf(c);
  const parts = payload === undefined ? [] : Array.isArray(payload) ? payload : [payload];
  const headers: Record<string, string> = {
    host: "localhost",
    connection: "close",
    ...requestHeaders(c, id),
  };
  if (payload !== undefined && c.chunked) headers["transfer-encoding"] = "chunked";
  else if (payload !== undefined && headers["content-length"] === undefined) {
    headers["content-length"] = String(parts.reduce((n, p) => n + p.length, 0));
  }
  const head = `${c.method ?? "POST"} ${c.path ?? GENERATE_PATH} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  const encode = (part: Buffer) =>
    c.chunked
      ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")])
      : part;
  if (c.cancelAfterMs) setTimeout(() => socket.destroy(), c.cancelAfterMs);
  socket.write(Buffer.concat([Buffer.from(head), ...(parts.length > 0 ? [encode(parts[0] as Buffer)] : [])]));
  for (const part of parts.slice(1)) {
    await sleep(10);
    socket.write(encode(part));
  }
  if (payload !== undefined && c.chunked) socket.write("0\r\n\r\n");
  await done;
  const text = Buffer.concat(chunks)
    .toString("latin1")
    .replace(/\r\nDate: [^\r]*/i, "");
  const status = /^HTTP\/1\.1 (\d+)/.exec(text);
  return { status: status ? Number(status[1]) : undefined, response: portless(text) };
}

async function viaFetch(server: TestServer, c: Case, id: string) {
  const payload = bodyOf(c);
  const res = await fetch(`http://${server.h1}${c.path ?? GENERATE_PATH}`, {
    method: c.method ?? "POST",
    headers: requestHeaders(c, id),
    ...(payload === undefined ? {} : { body: Array.isArray(payload) ? Buffer.concat(payload) : payload }),
  });
  const body = Buffer.from(await res.arrayBuffer()).toString("latin1");
  return {
    status: res.status,
    headers: [...res.headers].filter(([k]) => k !== "date" && k !== "keep-alive" && k !== "connection"),
    body: portless(body),
  };
}

/** connect-es transports, kept per server and kind for the whole suite. */
class Clients {
  private readonly managers: Http2SessionManager[] = [];
  transport(server: TestServer, kind: ConnectKind, options: Partial<ConnectTransportOptions> = {}) {
    const h2 = kind.startsWith("connect-h2");
    const baseUrl = `http://${h2 ? server.h2 : server.h1}`;
    const sessionManager = h2 ? new Http2SessionManager(baseUrl) : undefined;
    if (sessionManager) this.managers.push(sessionManager);
    return createConnectTransport({
      baseUrl,
      httpVersion: h2 ? "2" : "1.1",
      useBinaryFormat: kind.endsWith("proto"),
      ...(sessionManager ? { sessionManager } : {}),
      ...options,
    } as ConnectTransportOptions);
  }
  close(): void {
    for (const m of this.managers) m.abort();
  }
}

async function viaConnect(clients: Clients, server: TestServer, c: Case, id: string, kind: ConnectKind) {
  const rpc = c.rpc ?? GENERATE;
  const transport = clients.transport(server, kind, c.transport);
  const headers: Record<string, string> = { "x-test-id": id };
  if (c.behaviour) headers["x-test-behaviour"] = c.behaviour;
  const input = fromBinary(rpc.input, protoBody());
  try {
    const res = await transport.unary(rpc, undefined, c.timeoutMs, headers, input as never);
    return {
      status: 0,
      message: toJson(rpc.output, res.message as never),
      header: [...res.header].filter(([k]) => k !== "date" && k !== "keep-alive" && k !== "connection"),
      trailer: [...res.trailer],
    };
  } catch (e) {
    const err = ConnectError.from(e);
    return {
      status: err.code,
      message: err.rawMessage,
      metadata: [...err.metadata].filter(([k]) => k !== "date" && k !== "keep-alive" && k !== "connection"),
      details: err.details.map((d) =>
        "desc" in d ? d : { type: d.type, value: Buffer.from(d.value).toString("base64"), debug: d.debug },
      ),
    };
  }
}

async function call(clients: Clients, kind: ClientKind, server: TestServer, c: Case, id: string) {
  switch (kind) {
    case "h2":
      return viaH2(server, c, id);
    case "h1":
      return viaH1(server, c, id);
    case "fetch":
      return viaFetch(server, c, id);
    default:
      return viaConnect(clients, server, c, id, kind);
  }
}

/** Waits until the implementation has finished with the call, if it ran. */
async function settled(log: ObservationLog, id: string) {
  for (let i = 0; i < 100 && log.has(id) && !log.get(id)?.done; i++) await sleep(10);
  const o = log.get(id);
  return o && { ...o };
}

/** `clients`, each HTTP/2 one joined by its HTTP/1.1 twin: every case runs over both. */
function withHttp1(clients: ClientKind[]): ClientKind[] {
  const all = new Set(clients);
  for (const kind of clients) {
    if (kind === "h2") all.add("h1");
    else if (kind.startsWith("connect-h2")) all.add(kind.replace("h2", "h1") as ClientKind);
  }
  return [...all];
}

function runCases(
  title: string,
  reference: Flavour,
  cases: Case[],
  extra: Extra,
  ours: Flavour = "ours-fast",
) {
  describe(title, () => {
    let ref: TestServer;
    let fast: TestServer;
    const clients = new Clients();
    before(async () => {
      [ref, fast] = await Promise.all([startServer(reference, extra), startServer(ours, extra)]);
    });
    after(async () => {
      clients.close();
      await Promise.all([ref.close(), fast.close()]);
    });
    for (const c of cases) {
      for (const kind of withHttp1(c.clients)) {
        it(`${c.name} (${kind})`, async () => {
          const id = randomUUID();
          const expected = await call(clients, kind, ref, c, id);
          const before = { ...(fast.stats as GrpcUnaryFastPathStats) };
          const actual = await call(clients, kind, fast, c, id);
          const stats = fast.stats as GrpcUnaryFastPathStats;
          const delta = {
            fast: stats.fast - before.fast,
            connect: stats.connect - before.connect,
            http1: stats.http1 - before.http1,
            fallback: stats.fallback - before.fallback,
          };
          const onH1 = !(kind === "h2" || kind.startsWith("connect-h2"));
          const wanted =
            c.served === "fast"
              ? { fast: 1, connect: 1, http1: onH1 ? 1 : 0, fallback: 0 }
              : { fast: 0, connect: 0, http1: 0, fallback: 1 };
          assert.deepEqual(delta, wanted, `served by the wrong path: ${JSON.stringify(delta)}`);
          if (c.racy) {
            assert.equal(actual.status, expected.status, JSON.stringify({ actual, expected }));
          } else {
            assert.deepEqual(actual, expected);
          }
          if (c.status !== undefined && !kind.startsWith("connect")) {
            assert.equal(expected.status, c.status, JSON.stringify(expected));
          }
          const [o1, o2] = await Promise.all([settled(ref.log, id), settled(fast.log, id)]);
          if (c.cancelAfterMs) assert.ok(o1?.signal && o2?.signal, "the cancel aborted the handler's signal");
          if (c.racy) assert.equal(o2?.invoked, o1?.invoked);
          else assert.deepEqual(o2, o1);
        });
      }
    }
  });
}

runCases("Connect unary fast path = stock connect-node", "stock", CASES, {});

// The same cases through fastConnectNodeAdapter, for users who bring their own http/http2 servers.
runCases(
  "fastConnectNodeAdapter's Connect unary fast path = stock connect-node",
  "stock",
  CASES,
  {},
  "adapter-fast",
);

runCases(
  "Connect unary fast path = this server's connect-node path with JSON limits",
  "ours-slow",
  [
    {
      name: "JSON within the limits",
      headers: json,
      body: jsonBody(),
      clients: ALL_RAW,
      served: "fast",
      status: 200,
    },
    {
      name: "JSON nested too deep",
      headers: json,
      body: Buffer.from(`{"delayMs":1,"x":${"[".repeat(20)}${"]".repeat(20)}}`),
      clients: ALL_RAW,
      served: "fast",
      status: 400,
    },
    {
      name: "JSON nested too deep, in two DATA frames",
      headers: json,
      chunked: true,
      body: [Buffer.from(`{"x":${"[".repeat(5)}`), Buffer.from(`${"[".repeat(10)}${"]".repeat(15)}}`)],
      clients: RAW_H2,
      served: "fast",
      status: 400,
    },
    {
      name: "JSON over the JSON size limit, without content-length",
      headers: json,
      chunked: true,
      body: Buffer.from(`{"delayMs":1,"pad":"${"p".repeat(300)}"}`),
      clients: RAW_H2,
      served: "fast",
      status: 429,
    },
    {
      name: "JSON over the JSON size limit, with content-length (answered before reading)",
      headers: json,
      body: Buffer.from(`{"delayMs":1,"pad":"${"p".repeat(300)}"}`),
      clients: ["h1", "fetch"],
      served: "fallback",
      status: 429,
    },
    {
      name: "JSON over the JSON size limit, content-length on HTTP/2",
      headers: { ...json, "content-length": "322" },
      body: Buffer.from(`{"delayMs":1,"pad":"${"p".repeat(300)}"}`),
      clients: RAW_H2,
      served: "fallback",
      status: 429,
    },
    {
      name: "binary is not held to the JSON limits",
      body: bigRequest(400),
      clients: RAW_H2,
      served: "fast",
      status: 200,
    },
  ],
  { json: { readMaxBytes: 256, maxDepth: 8 } },
);

/** A trailer hook like the ORCA reporter's. */
const hook: UnaryTrailerHook = {
  trailerName: "endpoint-load-metrics-bin",
  recordCall() {},
  trailerValue: () => "CAESAggD",
};

runCases(
  "Connect unary fast path = connect-node with a trailer hook (ORCA's shape)",
  "stock",
  [
    {
      name: "a success: a trailer- header",
      clients: ["h2", "connect-h2-proto"],
      served: "fast",
      status: 200,
    },
    {
      name: "a success with the handler's own trailers",
      behaviour: "headers",
      clients: RAW_H2,
      served: "fast",
      status: 200,
    },
    {
      name: "an error: the report as a plain header",
      behaviour: "status=NotFound",
      clients: ["h2", "connect-h2-json"],
      served: "fast",
      status: 404,
    },
    { name: "a plain Error", behaviour: "throw", clients: RAW_H2, served: "fast", status: 500 },
    {
      name: "a malformed request never reaches the hook",
      body: Buffer.from([0x0a, 0xff]),
      clients: RAW_H2,
      served: "fast",
    },
    {
      name: "a response over writeMaxBytes, after the hook",
      behaviour: "size=5000",
      clients: RAW_H2,
      served: "fast",
      status: 429,
    },
  ],
  { trailerHook: hook },
);

runCases(
  "Connect unary fast path = connect-node with requireConnectProtocolHeader",
  "stock",
  [
    {
      name: "with connect-protocol-version 1",
      headers: { "connect-protocol-version": "1" },
      clients: ALL_RAW,
      served: "fast",
      status: 200,
    },
    { name: "without it", clients: ALL_RAW, served: "fallback", status: 400 },
    {
      name: "with version 2",
      headers: { "connect-protocol-version": "2" },
      clients: RAW_H2,
      served: "fallback",
      status: 400,
    },
    { name: "connect-es (sends it)", clients: CONNECT, served: "fast" },
    {
      name: "GET with connect=v1",
      method: "GET",
      path: `${GET_PATH}?connect=v1&encoding=json&message=%7B%7D`,
      headers: { "content-type": undefined },
      clients: ALL_RAW,
      served: "fast",
      status: 200,
    },
    {
      name: "GET without connect=v1",
      method: "GET",
      path: `${GET_PATH}?encoding=json&message=%7B%7D`,
      headers: { "content-type": undefined },
      clients: RAW_H2,
      served: "fallback",
      status: 400,
    },
  ],
  { requireConnectProtocolHeader: true },
);

describe("Connect GET through connect-es", () => {
  it("useHttpGet on a NO_SIDE_EFFECTS method is served fast, as connect-node answers it", async () => {
    const [ref, fast] = await Promise.all([startServer("stock", {}), startServer("ours-fast", {})]);
    const clients = new Clients();
    try {
      for (const kind of ["connect-h2-proto", "connect-h2-json"] as const) {
        const c: Case = {
          name: "get",
          rpc: GET_GENERATE,
          transport: { useHttpGet: true },
          clients: [kind],
          served: "fast",
        };
        const expected = await viaConnect(clients, ref, c, "g", kind);
        const before = fast.stats?.connect ?? 0;
        const actual = await viaConnect(clients, fast, c, "g", kind);
        assert.deepEqual(actual, expected);
        assert.equal(expected.status, 0);
        assert.equal((fast.stats?.connect ?? 0) - before, 1, kind);
      }
    } finally {
      clients.close();
      await Promise.all([ref.close(), fast.close()]);
    }
  });
});

runCases(
  "Connect unary fast path over HTTP/1.1 = this server's connect-node path, charging request bytes",
  "ours-slow",
  [
    {
      name: "a body within the charge limit",
      body: bigRequest(400),
      clients: ["h1", "fetch"],
      served: "fast",
      status: 200,
    },
    {
      name: "a body over the charge limit, without content-length",
      body: bigRequest(1000),
      chunked: true,
      clients: ["h1"],
      served: "fast",
      status: 429,
    },
    {
      name: "a body over the charge limit, in two chunks",
      body: [bigRequest(1000).subarray(0, 500), bigRequest(1000).subarray(500)],
      chunked: true,
      clients: ["h1"],
      served: "fast",
      status: 429,
    },
    {
      name: "JSON over the charge limit",
      headers: json,
      body: Buffer.from(`{"delayMs":1,"pad":"${"p".repeat(700)}"}`),
      clients: ["h1", "fetch"],
      served: "fast",
      status: 429,
    },
    { name: "a GET is not charged", ...getCase(), clients: ["h1", "fetch"], served: "fast", status: 200 },
  ],
  { chargeLimit: 600 },
);

function getCase(): Pick<Case, "method" | "path" | "headers"> {
  return {
    method: "GET",
    path: `${GET_PATH}?encoding=proto&base64=1&message=${b64(protoBody())}`,
    headers: { "content-type": undefined },
  };
}

describe("request bytes charged on the HTTP/1.1 fast path", () => {
  it("are all released, and refused bytes answer RESOURCE_EXHAUSTED with what to do", async () => {
    const fast = await startServer("ours-fast", { chargeLimit: 600 });
    try {
      const ok = await viaH1(fast, { name: "ok", body: bigRequest(400), clients: [], served: "fast" }, "c1");
      assert.equal(ok.status, 200);
      const refused = await viaH1(
        fast,
        { name: "big", body: bigRequest(1000), chunked: true, clients: [], served: "fast" },
        "c2",
      );
      assert.equal(refused.status, 429);
      assert.match(refused.response, /holds too many request bytes.*retry later, or send smaller messages/);
      assert.equal(fast.charged.refused, 1);
      assert.equal(fast.charged.held, 0, "every byte charged was released");
      assert.equal(fast.stats?.http1, 2);
    } finally {
      await fast.close();
    }
  });
});

/** Complete responses at the start of an HTTP/1.1 transcript (with content-length, or small and chunked). */
function completeResponses(data: Buffer): number {
  let n = 0;
  let at = 0;
  for (;;) {
    const end = data.indexOf("\r\n\r\n", at);
    if (end < 0) return n;
    const head = data.subarray(at, end).toString("latin1");
    if (/\r\ntransfer-encoding: chunked/i.test(head)) {
      // connect-node's fallback (415 and such) answers chunked: here always small, ending "0\r\n\r\n".
      const last = data.indexOf("0\r\n\r\n", end + 4);
      if (last < 0) return n;
      at = last + 5;
    } else {
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      if (data.length < end + 4 + length) return n;
      at = end + 4 + length;
    }
    n++;
  }
}

/** One raw HTTP/1.1 request for a keep-alive connection. */
function rawRequest(c: Case, id: string, last: boolean): Buffer {
  const payload = bodyOf(c);
  const parts = payload === undefined ? [] : Array.isArray(payload) ? payload : [payload];
  const headers: Record<string, string> = { host: "localhost", ...requestHeaders(c, id) };
  if (last) headers.connection = "close";
  if (payload !== undefined && c.chunked) headers["transfer-encoding"] = "chunked";
  else if (payload !== undefined)
    headers["content-length"] ??= String(parts.reduce((n, p) => n + p.length, 0));
  const head = `${c.method ?? "POST"} ${c.path ?? GENERATE_PATH} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  const body = c.chunked
    ? [
        ...parts.map((p) =>
          Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from("\r\n")]),
        ),
        Buffer.from("0\r\n\r\n"),
      ]
    : parts;
  return Buffer.concat([Buffer.from(head), ...body]);
}

/**
 * Sends `requests` on one connection (pipelined: all in one write; else
 * each once the previous response is in) and returns everything the
 * server sent until it closed, minus Date lines.
 */
async function keepAlive(server: TestServer, requests: Buffer[], pipelined: boolean): Promise<string> {
  const [host, port] = server.h1.split(":") as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  socket.on("error", () => {});
  let data = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    waiting?.();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  try {
    if (pipelined) socket.write(Buffer.concat(requests));
    else {
      for (const [i, request] of requests.entries()) {
        socket.write(request);
        while (completeResponses(data) < i + 1 && !socket.destroyed) {
          await Promise.race([new Promise<void>((r) => (waiting = r)), closed]);
        }
      }
    }
    await closed;
  } finally {
    socket.destroy();
  }
  return portless(data.toString("latin1").replace(/\r\nDate: [^\r]*/gi, ""));
}

describe("Connect unary fast path over HTTP/1.1 keep-alive connections = stock connect-node", () => {
  let ref: TestServer;
  let fast: TestServer;
  before(async () => {
    [ref, fast] = await Promise.all([startServer("stock", {}), startServer("ours-fast", {})]);
  });
  after(async () => {
    await Promise.all([ref.close(), fast.close()]);
  });
  const sequence = (id: string, last = true): Buffer[] => [
    rawRequest({ name: "ok", clients: [], served: "fast" }, `${id}-1`, false),
    rawRequest(
      { name: "error", behaviour: "status=NotFound", clients: [], served: "fast" },
      `${id}-2`,
      false,
    ),
    rawRequest({ name: "get", ...getCase(), clients: [], served: "fast" }, `${id}-3`, false),
    rawRequest(
      { name: "json", headers: json, body: jsonBody(), clients: [], served: "fast" },
      `${id}-4`,
      false,
    ),
    // An early error: the rest of the body is drained and the connection goes on.
    rawRequest(
      { name: "too big", body: bigRequest(2000), chunked: true, clients: [], served: "fast" },
      `${id}-5`,
      false,
    ),
    rawRequest(
      { name: "fallback", headers: { "content-type": "text/plain" }, clients: [], served: "fallback" },
      `${id}-6`,
      false,
    ),
    rawRequest({ name: "last", behaviour: "headers", clients: [], served: "fast" }, `${id}-7`, last),
  ];
  for (const pipelined of [false, true]) {
    it(`serves requests one after another on one connection${pipelined ? ", pipelined" : ""}`, async () => {
      const id = randomUUID();
      const expected = await keepAlive(ref, sequence(id), pipelined);
      const before = { ...(fast.stats as GrpcUnaryFastPathStats) };
      const connections = fast.h1Connections().accepted;
      const actual = await keepAlive(fast, sequence(id), pipelined);
      assert.equal(actual, expected);
      assert.equal(completeResponses(Buffer.from(actual, "latin1")), 7);
      assert.equal(fast.h1Connections().accepted - connections, 1, "one connection for all");
      const stats = fast.stats as GrpcUnaryFastPathStats;
      assert.equal(stats.http1 - before.http1, 6, "six served fast");
      assert.equal(stats.fallback - before.fallback, 1, "one fell back");
    });
  }

  it("answers a request whose unread body is over 256 KiB and closes the connection, as connect-node", async () => {
    const id = randomUUID();
    // Over readMaxBytes at once, then 300 KiB more that nobody reads, and no final chunk.
    const big = bigRequest(2000);
    const request = (tag: string) => {
      const head = rawRequest(
        { name: "h", body: Buffer.alloc(0), chunked: true, clients: [], served: "fast" },
        tag,
        false,
      );
      const headOnly = head.subarray(0, head.indexOf("\r\n\r\n") + 4);
      const chunk = (b: Buffer) =>
        Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);
      return [
        Buffer.concat([
          headOnly,
          chunk(big),
          ...Array.from({ length: 30 }, () => chunk(Buffer.alloc(10240, 1))),
        ]),
      ];
    };
    const started = Date.now();
    const expected = await keepAlive(ref, request(id), true);
    const before = fast.stats?.http1 ?? 0;
    const actual = await keepAlive(fast, request(id), true);
    assert.equal(actual, expected);
    assert.match(actual, /^HTTP\/1\.1 429 [\s\S]*\r\nconnection: close\r\n/i);
    assert.equal((fast.stats?.http1 ?? 0) - before, 1);
    assert.ok(Date.now() - started < 5000, "both closed the connection soon after answering");
  });

  it("reuses connections for connect-es over HTTP/1.1", async () => {
    const clients = new Clients();
    try {
      const connections = fast.h1Connections().accepted;
      const before = fast.stats?.http1 ?? 0;
      const c: Case = { name: "reuse", clients: [], served: "fast" };
      for (let i = 0; i < 20; i++) {
        const r = await viaConnect(
          clients,
          fast,
          c,
          `reuse-${i}`,
          i % 2 === 0 ? "connect-h1-proto" : "connect-h1-json",
        );
        assert.equal(r.status, 0);
      }
      assert.equal((fast.stats?.http1 ?? 0) - before, 20);
      assert.ok(
        fast.h1Connections().accepted - connections <= 2,
        `${fast.h1Connections().accepted - connections} connections for 20 calls`,
      );
    } finally {
      clients.close();
    }
  });
});

describe("aborted HTTP/1.1 calls on the fast path", () => {
  it("many clients that go away mid-body or mid-call leave no growth; every signal fires", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const fast = await startServer("ours-fast", {});
    const [host, portText] = fast.h1.split(":") as [string, string];
    const port = Number(portText);
    /** One client: headers and part of a body, or a whole request whose handler waits; then the socket goes. */
    const abort = (id: string, midBody: boolean) =>
      new Promise<void>((resolve) => {
        const socket = net.connect({ host, port });
        socket.on("error", () => {});
        socket.once("close", () => resolve());
        const request = midBody
          ? rawRequest(
              {
                name: "part",
                headers: { "content-length": "900" },
                body: bigRequest(900).subarray(0, 300),
                clients: [],
                served: "fast",
              },
              id,
              false,
            )
          : rawRequest({ name: "wait", behaviour: "wait-signal", clients: [], served: "fast" }, id, false);
        socket.write(request, () => setTimeout(() => socket.destroy(), midBody ? 2 : 15));
      });
    const round = async (tag: string, n: number) => {
      const ids: string[] = [];
      for (let i = 0; i < n; i += 25) {
        await Promise.all(
          Array.from({ length: 25 }, (_, j) => {
            const id = `${tag}-${i + j}`;
            if (j % 2 === 1) ids.push(id);
            return abort(id, j % 2 === 0);
          }),
        );
      }
      return ids;
    };
    try {
      await round("warm", 200);
      for (let i = 0; i < 50 && fast.h1Connections().open > 0; i++) await sleep(20);
      gc();
      const heapBefore = process.memoryUsage().heapUsed;
      const before = { ...(fast.stats as GrpcUnaryFastPathStats) };
      const waited = await round("run", 1000);
      for (let i = 0; i < 100 && fast.h1Connections().open > 0; i++) await sleep(20);
      assert.equal(fast.h1Connections().open, 0, "every connection closed");
      const firedCount = () => waited.filter((id) => fast.log.get(id)?.signal !== undefined).length;
      for (let i = 0; i < 100 && firedCount() < waited.length; i++) await sleep(20);
      const fired = firedCount();
      assert.equal(fired, waited.length, "each handler's signal fired when its client went away");
      const stats = fast.stats as GrpcUnaryFastPathStats;
      assert.equal(stats.http1 - before.http1, 1000, "all served by the fast path");
      await sleep(50);
      gc();
      const growth = process.memoryUsage().heapUsed - heapBefore;
      // The observation log keeps ~500 entries (~100 KB); the calls themselves must keep nothing.
      assert.ok(
        growth < 4 * 1024 * 1024,
        `heap grew ${(growth / 1024).toFixed(0)} KiB over 1000 aborted calls`,
      );
      const after = await viaH1(fast, { name: "ok", clients: [], served: "fast" }, "after");
      assert.equal(after.status, 200, "the server still answers");
    } finally {
      await fast.close();
    }
  });
});
