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
  close(): Promise<void>;
}

type Flavour = "stock" | "ours-slow" | "ours-fast";
interface Extra {
  readonly json?: { readMaxBytes: number; maxDepth: number };
  readonly trailerHook?: UnaryTrailerHook;
  readonly requireConnectProtocolHeader?: boolean;
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
  let handler: ReturnType<typeof createConnectHandler> | ReturnType<typeof connectNodeAdapter>;
  let h2: http2.Http2Server;
  let stats: GrpcUnaryFastPathStats | undefined;
  if (flavour === "stock") {
    const interceptors = extra.trailerHook ? [trailerHookInterceptor(extra.trailerHook)] : [];
    handler = connectNodeAdapter({ ...common, interceptors });
    h2 = http2.createServer({}, handler);
  } else {
    const ours = createConnectHandler({
      ...common,
      json: extra.json ?? { readMaxBytes: 2 ** 30, maxDepth: 10_000 },
      telemetry: false,
      fastPath: flavour === "ours-fast",
      ...(extra.trailerHook ? { trailerHook: extra.trailerHook } : {}),
    });
    handler = ours;
    stats = ours.grpcUnaryFastPath?.stats;
    h2 = createHttp2Server({}, ours);
  }
  const h1 = http.createServer(handler);
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
  const headers: Record<string, string> = { host: "localhost", connection: "close", ...requestHeaders(c, id) };
  if (payload !== undefined && c.chunked) headers["transfer-encoding"] = "chunked";
  else if (payload !== undefined && headers["content-length"] === undefined) {
    headers["content-length"] = String(parts.reduce((n, p) => n + p.length, 0));
  }
  const head = `${c.method ?? "POST"} ${c.path ?? GENERATE_PATH} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  const encode = (part: Buffer) =>
    c.chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from("\r\n")]) : part;
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

function runCases(title: string, reference: Flavour, cases: Case[], extra: Extra) {
  describe(title, () => {
    let ref: TestServer;
    let fast: TestServer;
    const clients = new Clients();
    before(async () => {
      [ref, fast] = await Promise.all([startServer(reference, extra), startServer("ours-fast", extra)]);
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
          if (c.racy) assert.equal(o2?.invoked, o1?.invoked);
          else assert.deepEqual(o2, o1);
        });
      }
    }
  });
}

runCases("Connect unary fast path = stock connect-node", "stock", CASES, {});

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
