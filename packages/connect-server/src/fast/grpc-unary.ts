import { channel } from "node:diagnostics_channel";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createMethodSerializationLookup,
  createMethodUrl,
  type Serialization,
} from "@connectrpc/connect/protocol";
import {
  contentTypeProto,
  headerAcceptEncoding,
  parseContentType,
  parseTimeout,
} from "@connectrpc/connect/protocol-grpc";
import { type ConnectNodeAdapterOptions, compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import type { JsonLimits } from "../json-limits.js";
import type { ServerTelemetry } from "../telemetry/server-telemetry.js";
import { clampTimeouts } from "../timeouts.js";
import { LazyHandlerContext } from "./call-context.js";
import { acceptConnectGetHttp1, acceptConnectPostHttp1 } from "./connect-unary-http1.js";
import { acceptConnectGet, acceptConnectPost } from "./connect-unary-http2.js";
import type { FastMethod } from "./fast-method.js";
import { type RecordedMethod, recordRoutes } from "./routes.js";
import type { UnaryTrailerHook } from "./trailer-hook.js";
import { UnaryCall } from "./unary-call.js";

/**
 * Options of {@link createGrpcUnaryFastPath}: connect-node's adapter options,
 * so that one object configures both paths. Each is honoured exactly as
 * connect-node honours it, per service where a service has its own:
 *
 * - `routes`: run ONCE, recorded; {@link GrpcUnaryFastPath.routes} replays
 *   it for connectNodeAdapter, so both paths call the same implementations.
 * - `readMaxBytes` (default 0xffffffff), `writeMaxBytes` (default
 *   0xffffffff), `binaryOptions`, `maxTimeoutMs` (default unlimited),
 *   `shutdownSignal` (aborts every call's signal), `interceptors` (run, as
 *   connect runs them, around the implementation), `requestPathPrefix`
 *   (default ""), `contextValues` (called once per call with an
 *   `Http2ServerRequest` built for it).
 * - `acceptCompression` (default gzip and br, as connectNodeAdapter) and
 *   `compressMinBytes` (default 1024): response compression as negotiated
 *   from `grpc-accept-encoding`. Compressed requests fall back.
 * - `grpc: false` (router or service), and a `requestGate`: those methods
 *   always fall back.
 * - `fallback`, `jsonOptions`, `grpcWeb`, `connect`,
 *   `requireConnectProtocolHeader`: only concern calls that fall back.
 */
export type GrpcUnaryFastPathOptions = Omit<ConnectNodeAdapterOptions, "fallback"> & {
  /**
   * Limits for JSON request bodies of Connect calls served fast, checked
   * as the body streams in, as connect-handler checks them on connect-node's
   * path (`limitJsonBody`). Default: none (plain connect-node).
   */
  json?: JsonLimits;
  /** Metrics and spans of the calls served fast, through the same hook as connect-node's path. Default: none. */
  telemetry?: ServerTelemetry;
  /**
   * A trailer hook run around the implementation and any `interceptors`
   * (as the outermost interceptor would be), without an interceptor's cost.
   * Default: none.
   */
  trailerHook?: UnaryTrailerHook;
  /**
   * Told when an exception escapes a fast call's own handling (a bug that
   * one request triggered); the call's stream is reset (HTTP/1.1: its
   * response abandoned) next. Default: the
   * error is written to stderr, as connect-node does with handler failures.
   */
  onEscapedError?: (
    err: unknown,
    stream: http2.ServerHttp2Stream | http.ServerResponse,
    method: string,
  ) => void;
  /**
   * For an HTTP/1.1 request served fast, a function that takes each change
   * of the request bytes held for it and returns false once the server
   * holds no more (the call then fails with RESOURCE_EXHAUSTED), as
   * connect-handler's `chargeRequestBytes`. Default: bodies are not counted.
   */
  chargeRequestBytes?: (req: http.IncomingMessage) => ((delta: number) => boolean) | undefined;
};

/** Counters of {@link GrpcUnaryFastPath.handleStream} decisions, to check the fast path really runs. */
export interface GrpcUnaryFastPathStats {
  /** Streams served by the fast path (gRPC and Connect). */
  fast: number;
  /** Of `fast`, the Connect protocol's unary calls (POST and GET). */
  connect: number;
  /** Of `connect`, the calls over HTTP/1.1 ({@link GrpcUnaryFastPath.handleHttp1}). */
  http1: number;
  /** Streams left to the caller (another protocol, streaming, compression, unknown path, …). */
  fallback: number;
}

/**
 * The `node:diagnostics_channel` channel on which every fast path publishes
 * each decision, as a {@link FastPathDecision}: a debug hook that works
 * across processes' module copies (channels are global by name) and costs
 * one property read per call while nobody subscribes.
 */
export const FAST_PATH_CHANNEL = "connect-server:grpc-unary-fast-path";

/** What {@link FAST_PATH_CHANNEL} publishes for each stream. */
export interface FastPathDecision {
  /** The request's :path. */
  readonly path: string | undefined;
  /** "fast" when the fast path serves the call, "fallback" when it leaves it to connect-node. */
  readonly served: "fast" | "fallback";
  /** "connect" for a Connect-protocol call served fast; absent for gRPC and for calls that fall back. */
  readonly protocol?: "connect";
  /** "1.1" for an HTTP/1.1 request ({@link GrpcUnaryFastPath.handleHttp1}); absent for HTTP/2. */
  readonly httpVersion?: "1.1";
}

const decisions = channel(FAST_PATH_CHANNEL);

/** A unary gRPC fast path over the services a routes function registers. */
export interface GrpcUnaryFastPath {
  /**
   * Serves the stream if it is a unary gRPC call with binary protobuf,
   * identity request encoding, `te: trailers` and a path registered on the
   * router; returns false without touching the stream otherwise, for the
   * caller to hand it to connect-node. Arguments are those of an
   * Http2Server's 'stream' event.
   */
  handleStream(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
  ): boolean;
  /**
   * Serves an HTTP/1.1 request if it is a Connect unary call (POST with
   * application/proto or application/json, GET of a NO_SIDE_EFFECTS
   * method) that connect-node would get as far as reading; returns false
   * without touching the request or response otherwise, for the caller to
   * hand them to connect-node. Arguments are those of an http.Server's
   * 'request' event. See connect-unary-http1.ts.
   */
  handleHttp1(req: http.IncomingMessage, res: http.ServerResponse): boolean;
  /**
   * Registers the recorded services on a router: pass it as `routes` to
   * connectNodeAdapter so that the fallback serves the same implementations.
   */
  readonly routes: (router: ConnectRouter) => void;
  /** The request paths served fast over gRPC, e.g. "/rng.v1.RngService/Generate". */
  readonly paths: readonly string[];
  /** The request paths served fast over the Connect protocol. */
  readonly connectPaths: readonly string[];
  /** How many streams took the fast path and how many fell back. */
  readonly stats: GrpcUnaryFastPathStats;
}

/**
 * Creates a unary gRPC fast path: binary-protobuf unary gRPC calls over
 * HTTP/2 served straight on the `node:http2` stream, without connect-node's
 * generic machinery (compat request/response objects, fetch `Headers`,
 * async-iterable pipelines, an AbortController and DOMException per call),
 * but with connect's own functions for every decision a client can see:
 * `parseTimeout`, `createMethodSerializationLookup` (read/write limits and
 * parse errors), `compressionNegotiate`, `setTrailerStatus`, and the
 * implementation wrapped by `createServiceImplSpec`. Status codes, messages,
 * details, metadata, headers, trailers and body bytes are the ones
 * connect-node sends; `packages/connect-server/test/fast-differential.test.ts` checks
 * that against connect-node itself.
 *
 * The same object serves the Connect protocol's unary calls (POST with
 * application/proto or application/json, GET of NO_SIDE_EFFECTS methods;
 * see connect-unary.ts and `test/connect-fast-differential.test.ts`) for
 * services that keep Connect enabled.
 *
 * Everything else (streaming methods, gRPC-Web, gRPC+JSON, compressed
 * requests, HTTP/1.1, Expect, an unparsable timeout, …) is declined
 * per call: `handleStream` returns false and the caller gives the stream to
 * connect-node, see {@link serveWithFastPath}.
 *
 * Known differences, none visible to a client: a handler's context is a
 * {@link LazyHandlerContext}; a call whose client resets the stream before
 * its request ended never reaches the implementation (connect-node may
 * invoke it with an aborted signal); after an early error (e.g. a message
 * over readMaxBytes) the rest of the request is read and dropped rather than
 * left unread.
 */
export function createGrpcUnaryFastPath(options: GrpcUnaryFastPathOptions): GrpcUnaryFastPath {
  // connectNodeAdapter's default, applied to a copy rather than the caller's object.
  const routerOptions = {
    ...options,
    acceptCompression: options.acceptCompression ?? [compressionGzip, compressionBrotli],
  };
  const recorded = recordRoutes(options.routes, routerOptions);
  const prefix = options.requestPathPrefix ?? "";
  const byPath = new Map<string, FastMethod>();
  for (const r of recorded.methods) {
    // As connect-node's path map: a later registration of a path replaces an earlier one.
    const path = prefix + createMethodUrl("/", r.spec.method);
    const fast = fastMethod(r, options);
    if (fast) byPath.set(path, fast);
    else byPath.delete(path);
  }
  const stats: GrpcUnaryFastPathStats = { fast: 0, connect: 0, http1: 0, fallback: 0 };
  const methods = [...byPath.entries()];
  return {
    routes: recorded.replay,
    paths: methods.filter(([, m]) => m.grpc).map(([path]) => path),
    connectPaths: methods.filter(([, m]) => m.connect).map(([path]) => path),
    stats,
    handleStream(stream, headers, _flags, rawHeaders) {
      const path = headers[":path"];
      let served: "grpc" | "connect" | undefined;
      if (path !== undefined) {
        const method = byPath.get(path);
        if (method !== undefined) {
          if (headers[":method"] === "POST") {
            const contentType = headers["content-type"];
            // Connect's two plain content types skip gRPC's checks.
            const connect = contentType === "application/proto" || contentType === "application/json";
            if (!connect && method.grpc && acceptCall(method, stream, headers, rawHeaders)) served = "grpc";
            else if (method.connect && acceptConnectPost(method, stream, headers, rawHeaders)) {
              served = "connect";
            }
          }
        } else if (headers[":method"] === "GET") {
          const q = path.indexOf("?");
          const get = q < 0 ? undefined : byPath.get(path.slice(0, q));
          if (get?.connectGet && acceptConnectGet(get, stream, headers, rawHeaders, path.slice(q + 1))) {
            served = "connect";
          }
        }
      }
      if (served !== undefined) {
        stats.fast++;
        if (served === "connect") stats.connect++;
      } else stats.fallback++;
      if (decisions.hasSubscribers) {
        decisions.publish({
          path,
          served: served ? "fast" : "fallback",
          ...(served === "connect" ? { protocol: served } : {}),
        } satisfies FastPathDecision);
      }
      return served !== undefined;
    },
    handleHttp1(req, res) {
      const url = req.url;
      let served = false;
      if (url !== undefined) {
        if (req.method === "POST") {
          const method = byPath.get(url);
          if (method?.connect) served = acceptConnectPostHttp1(method, req, res);
        } else if (req.method === "GET") {
          const q = url.indexOf("?");
          const get = q < 0 ? undefined : byPath.get(url.slice(0, q));
          if (get?.connectGet) served = acceptConnectGetHttp1(get, req, res, url.slice(q + 1));
        }
      }
      if (served) {
        stats.fast++;
        stats.connect++;
        stats.http1++;
      } else stats.fallback++;
      if (decisions.hasSubscribers) {
        decisions.publish({
          path: url,
          served: served ? "fast" : "fallback",
          ...(served ? { protocol: "connect" } : {}),
          httpVersion: "1.1",
        } satisfies FastPathDecision);
      }
      return served;
    },
  };
}

function fastMethod(r: RecordedMethod, pathOptions: GrpcUnaryFastPathOptions): FastMethod | undefined {
  const { contextValues, telemetry, trailerHook, onEscapedError, chargeRequestBytes } = pathOptions;
  const { spec, options } = r;
  if (spec.kind !== "unary" || !(r.grpc || r.connect) || options.requestGate !== undefined) return undefined;
  const serialization = createMethodSerializationLookup(
    spec.method,
    options.binaryOptions,
    options.jsonOptions,
    options,
  );
  const input = serialization.getI(true) as Serialization<unknown>;
  const output = serialization.getO(true) as Serialization<unknown>;
  const inputJson = serialization.getI(false) as Serialization<unknown>;
  const outputJson = serialization.getO(false) as Serialization<unknown>;
  return {
    spec,
    grpc: r.grpc,
    connect: r.connect,
    connectGet: r.connect && spec.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
    parseJson: inputJson.parse,
    serializeJson: outputJson.serialize,
    jsonOptions: options.jsonOptions,
    jsonLimits: pathOptions.json,
    requireConnectProtocolHeader: options.requireConnectProtocolHeader,
    negotiatedConnect: new Map(),
    method: spec.method,
    service: spec.method.parent,
    output: spec.method.output,
    impl: spec.impl as FastMethod["impl"],
    parse: input.parse,
    serialize: output.serialize,
    readMaxBytes: options.readMaxBytes,
    compressMinBytes: options.compressMinBytes,
    maxTimeoutMs: options.maxTimeoutMs,
    acceptCompression: options.acceptCompression,
    shutdownSignal: options.shutdownSignal,
    interceptors: options.interceptors,
    contextValues,
    negotiated: new Map(),
    fullName: `${spec.method.parent.typeName}/${spec.method.name}`,
    telemetry,
    trailerHook,
    onEscapedError:
      onEscapedError ?? ((err, _stream, method) => console.error(`handler for rpc ${method} failed`, err)),
    chargeRequestBytes,
  };
}

/** Content types served fast without running connect's regular expression. */
const PLAIN_GRPC = "application/grpc";
/**
 * Authorities that make a valid URL (host or [IPv6], optional port), as
 * connect-node builds `context.url` from them; anything odder falls back.
 */
const SIMPLE_AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~]+)(?::[0-9]{1,5})?$/;
/** At most this many distinct grpc-accept-encoding values remembered per method. */
const NEGOTIATION_CACHE_SIZE = 32;

/**
 * Starts serving the call if everything connect-node would look at is the
 * plain case; returns false (stream untouched) otherwise.
 */
function acceptCall(
  m: FastMethod,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
): boolean {
  if (headers[":method"] !== "POST") return false;
  const contentType = headers["content-type"];
  if (contentType !== PLAIN_GRPC && contentType !== contentTypeProto) {
    if (parseContentType(contentType ?? null)?.binary !== true) return false;
  }
  // Neither connect-node nor grpc-go insist on `te`, but every gRPC client
  // sends it: a request without it is unusual enough to leave to connect-node.
  if (headers.te !== "trailers") return false;
  // Node's 'request' path answers Expect itself (100-continue, 417).
  if (headers.expect !== undefined) return false;
  const encoding = headers["grpc-encoding"];
  if (encoding !== undefined && encoding !== "identity") return false;
  const authority = headers[":authority"] ?? headers.host;
  if (authority === undefined || !SIMPLE_AUTHORITY.test(authority)) return false;
  let timeoutMs: number | undefined;
  if (headers["grpc-timeout"] !== undefined) clampTimeouts(headers);
  const timeout = headers["grpc-timeout"];
  if (timeout !== undefined) {
    if (typeof timeout !== "string") return false;
    const parsed = parseTimeout(timeout, m.maxTimeoutMs);
    // connect-node answers a bad or too long timeout with an error status.
    if (parsed.error) return false;
    timeoutMs = parsed.timeoutMs;
  }
  const accept = headers["grpc-accept-encoding"];
  let compression: Compression | null = null;
  if (typeof accept === "string" && accept !== "") {
    const cached = m.negotiated.get(accept);
    if (cached !== undefined) compression = cached;
    else {
      compression = compressionNegotiate(m.acceptCompression, null, accept, headerAcceptEncoding).response;
      if (m.negotiated.size < NEGOTIATION_CACHE_SIZE) m.negotiated.set(accept, compression);
    }
  } else if (accept !== undefined && typeof accept !== "string") {
    return false;
  }
  const observed = m.telemetry?.startCall(m.fullName, headers);
  new UnaryCall(m, stream, headers, rawHeaders, authority, timeoutMs, compression, observed);
  return true;
}
