import { channel } from "node:diagnostics_channel";
import * as http2 from "node:http2";
import { create, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createContextValues,
  createHandlerContext,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
} from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createMethodSerializationLookup,
  createMethodUrl,
  getAbortSignalReason,
  invokeUnaryImplementation,
  type Serialization,
} from "@connectrpc/connect/protocol";
import {
  contentTypeProto,
  grpcStatusOk,
  headerAcceptEncoding,
  parseContentType,
  parseTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { type ConnectNodeAdapterOptions, compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { type LazyContextSource, LazyHandlerContext } from "./context.js";
import { errorFromResetCode, nodeHeadersFromWeb, webHeadersFromNode } from "./headers.js";
import { type RecordedMethod, recordRoutes } from "./routes.js";

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
export type GrpcUnaryFastPathOptions = Omit<ConnectNodeAdapterOptions, "fallback">;

/** Counters of {@link GrpcUnaryFastPath.handleStream} decisions, to check the fast path really runs. */
export interface GrpcUnaryFastPathStats {
  /** Streams served by the fast path. */
  fast: number;
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
   * Registers the recorded services on a router: pass it as `routes` to
   * connectNodeAdapter so that the fallback serves the same implementations.
   */
  readonly routes: (router: ConnectRouter) => void;
  /** The request paths served fast, e.g. "/rng.v1.RngService/Generate". */
  readonly paths: readonly string[];
  /** How many streams took the fast path and how many fell back. */
  readonly stats: GrpcUnaryFastPathStats;
}

/** One unary method as the fast path serves it: everything per call precomputed. */
interface FastMethod {
  readonly spec: MethodImplSpec & { kind: "unary" };
  readonly method: DescMethod;
  readonly service: DescService;
  readonly output: DescMessage;
  readonly impl: (request: unknown, context: HandlerContext) => unknown;
  readonly parse: Serialization<unknown>["parse"];
  readonly serialize: Serialization<unknown>["serialize"];
  readonly readMaxBytes: number;
  readonly compressMinBytes: number;
  readonly maxTimeoutMs: number;
  readonly acceptCompression: Compression[];
  readonly shutdownSignal: AbortSignal | undefined;
  readonly interceptors: Interceptor[];
  readonly contextValues: ((req: http2.Http2ServerRequest) => ContextValues) | undefined;
  /** Response compression per grpc-accept-encoding value seen, so negotiation runs once per value. */
  readonly negotiated: Map<string, Compression | null>;
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
 * connect-node sends; `apps/server/test/fast-differential.test.ts` checks
 * that against connect-node itself.
 *
 * Everything else (streaming methods, gRPC-Web, Connect, JSON, compressed
 * requests, HTTP/1.1, Expect, an unparsable grpc-timeout, …) is declined
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
    const fast = fastMethod(r, options.contextValues);
    if (fast) byPath.set(path, fast);
    else byPath.delete(path);
  }
  const stats: GrpcUnaryFastPathStats = { fast: 0, fallback: 0 };
  return {
    routes: recorded.replay,
    paths: [...byPath.keys()],
    stats,
    handleStream(stream, headers, _flags, rawHeaders) {
      const path = headers[":path"];
      const method = path === undefined ? undefined : byPath.get(path);
      const call = method && acceptCall(method, stream, headers, rawHeaders);
      if (call) stats.fast++;
      else stats.fallback++;
      if (decisions.hasSubscribers) {
        decisions.publish({ path, served: call ? "fast" : "fallback" } satisfies FastPathDecision);
      }
      return call === true;
    },
  };
}

function fastMethod(
  r: RecordedMethod,
  contextValues: GrpcUnaryFastPathOptions["contextValues"],
): FastMethod | undefined {
  const { spec, options } = r;
  if (spec.kind !== "unary" || !r.grpc || options.requestGate !== undefined) return undefined;
  const serialization = createMethodSerializationLookup(
    spec.method,
    options.binaryOptions,
    options.jsonOptions,
    options,
  );
  const input = serialization.getI(true) as Serialization<unknown>;
  const output = serialization.getO(true) as Serialization<unknown>;
  return {
    spec,
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
  new UnaryCall(m, stream, headers, rawHeaders, authority, timeoutMs, compression);
  return true;
}

/** The stream property that leads shared event listeners to their call. */
const kCall = Symbol("grpcUnaryCall");
type CallStream = http2.ServerHttp2Stream & { [kCall]?: UnaryCall };

const READING = 0;
const RUNNING = 1;
const DONE = 2;

/** `respond()` options as Http2ServerResponse passes them: trailers follow. */
const RESPOND_OPTIONS = { waitForTrailers: true } as const;
/** Response headers of a call whose handler did not touch them, per response encoding. */
const PLAIN_HEADERS: http2.OutgoingHttpHeaders = { ":status": 200, "content-type": contentTypeProto };
const ENCODED_HEADERS = new Map<string, http2.OutgoingHttpHeaders>();
/** Trailers of a successful call whose handler did not touch them. */
const OK_TRAILERS: http2.OutgoingHttpHeaders = { "grpc-status": grpcStatusOk };

/**
 * One call: reads the request envelope by envelope as connect's pipeline
 * would (each error raised at the byte connect raises it), invokes the
 * implementation once the request has ended, and writes the response with
 * the same `respond` / `end` / `sendTrailers` sequence as connect-node's
 * `universalResponseToNodeResponse` on an Http2ServerResponse.
 */
class UnaryCall implements LazyContextSource {
  readonly method: DescMethod;
  readonly service: DescService;
  private state = READING;
  /**
   * The request bytes received so far: `body`, then the chunks in `more`
   * that are not concatenated to it yet (only large messages come in more
   * than one chunk).
   */
  private body: Buffer | undefined;
  private more: Buffer[] | undefined;
  private received = 0;
  /** Offset of the next envelope in the request body, and its length once its header arrived. */
  private next = 0;
  private length = -1;
  private messages = 0;
  private message: unknown;
  /** Deadline as an epoch time in ms, from grpc-timeout. */
  private readonly deadlineAt: number | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private onShutdown: (() => void) | undefined;
  /** Why the call's signal aborted or will abort: connect's `context.abort(reason)` at the end of a call. */
  private settledReason: unknown;
  private reqHeader: Headers | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  private contextValues: ContextValues | undefined;
  /** The context connect would build, only when interceptors need one. */
  private fullContext: ReturnType<typeof createHandlerContext> | undefined;
  /** Trailers for 'wantTrailers'. */
  trailers: http2.OutgoingHttpHeaders = OK_TRAILERS;

  constructor(
    private readonly m: FastMethod,
    private readonly stream: CallStream,
    private readonly headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
    private readonly authority: string,
    private readonly timeoutMsValue: number | undefined,
    private readonly compression: Compression | null,
  ) {
    this.method = m.method;
    this.service = m.service;
    this.deadlineAt = timeoutMsValue === undefined ? undefined : Date.now() + timeoutMsValue;
    if (m.contextValues) {
      // connect-node calls contextValues with the request before anything else.
      this.contextValues = m.contextValues(new http2.Http2ServerRequest(stream, headers, {}, rawHeaders));
    }
    stream[kCall] = this;
    // Http2ServerRequest keeps a no-op 'error' listener so that stream errors
    // (resets, a session torn down) never become uncaught exceptions.
    stream.on("error", ignore);
    stream.on("data", onData);
    stream.on("end", onEnd);
  }

  // --- reading ---------------------------------------------------------

  data(chunk: Buffer): void {
    if (this.state !== READING) return;
    if (this.body === undefined) this.body = chunk;
    else if (this.more === undefined) this.more = [chunk];
    else this.more.push(chunk);
    this.received += chunk.length;
    // As connect's envelope decoder: check each header as soon as it is
    // complete, parse each message as soon as it is complete.
    for (;;) {
      const available = this.received - this.next;
      if (available < 5) return;
      const body = this.flatten(available >= 5 + Math.max(this.length, 0));
      if (this.length < 0) {
        this.length = body.readUInt32BE(this.next + 1);
        if (this.length > this.m.readMaxBytes) {
          this.fail(
            new ConnectError(
              `message size ${this.length} is larger than configured readMaxBytes ${this.m.readMaxBytes}`,
              Code.ResourceExhausted,
            ),
          );
          return;
        }
      }
      if (available - 5 < this.length) return;
      const flags = body[this.next] as number;
      // A copy, as connect's decoder makes: bytes and unknown fields of the
      // message must not alias Node's read buffer (a slice of a buffer
      // shared with other frames). Small copies come from Node's buffer pool.
      const data = this.length === 0 ? EMPTY : copyOf(body, this.next + 5, this.next + 5 + this.length);
      this.next += 5 + this.length;
      this.length = -1;
      if ((flags & 0b1) === 0b1) {
        this.fail(
          new ConnectError("received compressed envelope, but do not know how to decompress", Code.Internal),
        );
        return;
      }
      let message: unknown;
      try {
        message = this.m.parse(data);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (++this.messages > 1) {
        this.fail(
          new ConnectError(
            "protocol error: received extra input message for unary method",
            Code.Unimplemented,
          ),
        );
        return;
      }
      this.message = message;
    }
  }

  /** The body received so far as one buffer, concatenated only when `needed`. */
  private flatten(needed: boolean): Buffer {
    if (needed && this.more !== undefined) {
      this.body = Buffer.concat([this.body as Buffer, ...this.more], this.received);
      this.more = undefined;
    }
    return this.body as Buffer;
  }

  end(): void {
    if (this.state !== READING) return;
    if (this.received > this.next) {
      this.fail(new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument));
    } else if (this.messages === 0) {
      this.fail(
        new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented),
      );
    } else {
      this.invoke();
    }
  }

  // --- running ----------------------------------------------------------

  private invoke(): void {
    this.state = RUNNING;
    this.body = undefined;
    const m = this.m;
    let result: unknown;
    try {
      if (m.interceptors.length > 0) {
        result = invokeUnaryImplementation(
          m.spec as never,
          this.createFullContext(),
          this.message as never,
          m.interceptors,
        );
      } else {
        result = m.impl(this.message, new LazyHandlerContext(this));
      }
    } catch (err) {
      this.fail(err);
      return;
    }
    // What `await` treats as a promise: anything with a callable `then`.
    if (typeof (result as { then?: unknown } | null | undefined)?.then === "function") {
      (result as PromiseLike<unknown>).then(
        (value) => this.succeed(value),
        (err: unknown) => this.fail(err),
      );
    } else {
      this.succeed(result);
    }
  }

  /**
   * With interceptors: the context connect builds, linked to this call's
   * signal (stream close, shutdown), so interceptors see what they would
   * see under connect-node.
   */
  private createFullContext(): HandlerContext {
    const m = this.m;
    const ctx = createHandlerContext({
      ...m.spec,
      service: m.service,
      requestMethod: "POST",
      protocolName: "grpc",
      timeoutMs: this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now(),
      requestSignal: this.signal(),
      requestHeader: this.requestHeader(),
      url: this.url(),
      responseHeader: this.responseHeader(),
      responseTrailer: this.responseTrailer(),
      contextValues: this.values(),
    });
    // The context copies the Headers given; write the response from its own.
    this.resHeader = ctx.responseHeader;
    this.resTrailer = ctx.responseTrailer;
    this.fullContext = ctx;
    return ctx;
  }

  private succeed(value: unknown): void {
    if (this.state === DONE) return;
    let data: Uint8Array;
    try {
      // connect's normalize(): an init object becomes a message.
      data = this.m.serialize(create(this.m.output, value as never));
    } catch (err) {
      this.fail(err);
      return;
    }
    const compression = this.compression;
    if (compression !== null && data.byteLength >= this.m.compressMinBytes) {
      compression.compress(data).then(
        (compressed) => {
          if (this.state === DONE) return;
          this.settle(undefined);
          this.respond(frame(1, compressed));
        },
        (err: unknown) => this.fail(err),
      );
      return;
    }
    this.settle(undefined);
    this.respond(frame(0, data));
  }

  /** Ends the call with an error status, as connect's transformCatchFinally does. */
  private fail(reason: unknown): void {
    if (this.state === DONE) return;
    this.settle(reason);
    const error =
      reason instanceof ConnectError
        ? reason
        : new ConnectError("internal error", Code.Internal, undefined, undefined, reason);
    this.trailers = nodeHeadersFromWeb(setTrailerStatus(this.responseTrailer(), error), false);
    this.respond(undefined);
  }

  /** connect's `context.abort(reason)` once the call has its outcome. */
  private settle(reason: unknown): void {
    this.state = DONE;
    if (this.fullContext !== undefined) this.fullContext.abort(reason);
    const c = this.controller;
    if (c === undefined) {
      // If the deadline passed first, connect's signal fired with that.
      this.settledReason = this.deadlinePassed() ? deadlineError() : reason;
      return;
    }
    this.abortWith(reason);
  }

  private respond(body: Uint8Array | undefined): void {
    const stream = this.stream;
    // Http2ServerResponse writes nothing on a stream that is gone.
    if (stream.destroyed || stream.closed) return;
    if (this.resTrailer !== undefined && this.trailers === OK_TRAILERS) {
      this.trailers = nodeHeadersFromWeb(this.resTrailer, false);
    }
    let headers: http2.OutgoingHttpHeaders;
    if (this.resHeader !== undefined) {
      headers = nodeHeadersFromWeb(this.resHeader, true);
      headers[":status"] = 200;
    } else if (this.compression !== null) {
      headers = encodedHeaders(this.compression.name);
    } else {
      headers = PLAIN_HEADERS;
    }
    stream.on("wantTrailers", onWantTrailers);
    try {
      stream.respond(headers, RESPOND_OPTIONS);
    } catch (err) {
      // What connect-node does when writeHead throws (e.g. a handler set a
      // connection-specific header): log it and leave the stream unanswered.
      console.error(`handler for rpc ${this.method.name} of ${this.service.typeName} failed`, err);
      return;
    }
    if (body === undefined) stream.end();
    else stream.end(body);
  }

  // --- the lazy context ---------------------------------------------------

  signal(): AbortSignal {
    if (this.controller !== undefined) return this.controller.signal;
    const c = new AbortController();
    this.controller = c;
    if (this.state === DONE) {
      c.abort(this.settledReason);
      return c.signal;
    }
    // As connect's createLinkedAbortController(deadline, request, shutdown):
    // the first of them already aborted gives the reason.
    const stream = this.stream;
    const shutdown = this.m.shutdownSignal;
    if (this.deadlinePassed()) c.abort(deadlineError());
    else if (stream.closed || stream.destroyed) c.abort(errorFromResetCode(stream.rstCode));
    else if (shutdown?.aborted) c.abort(getAbortSignalReason(shutdown));
    else {
      if (this.deadlineAt !== undefined) {
        this.timer = setTimeout(onDeadline, this.deadlineAt - Date.now(), this);
      }
      stream.once("close", onClose);
      if (shutdown) {
        this.onShutdown = () => this.abortWith(getAbortSignalReason(shutdown));
        shutdown.addEventListener("abort", this.onShutdown);
      }
    }
    return c.signal;
  }

  /** Aborts the signal if it exists and has not aborted yet; stops its timer and listeners. */
  abortWith(reason: unknown): void {
    clearTimeout(this.timer);
    if (this.onShutdown) this.m.shutdownSignal?.removeEventListener("abort", this.onShutdown);
    const c = this.controller;
    if (c !== undefined && !c.signal.aborted) c.abort(reason);
  }

  private deadlinePassed(): boolean {
    if (this.deadlineAt === undefined) return false;
    // connect's createDeadlineSignal aborts at once for a timeout <= 0.
    return (this.timeoutMsValue as number) <= 0 || Date.now() >= this.deadlineAt;
  }

  timeoutMs(): number | undefined {
    // As connect: the deadline as a Date (whole ms), minus now.
    return this.deadlineAt === undefined ? undefined : Math.trunc(this.deadlineAt) - Date.now();
  }

  requestHeader(): Headers {
    this.reqHeader ??= webHeadersFromNode(this.headers);
    return this.reqHeader;
  }

  responseHeader(): Headers {
    if (this.resHeader === undefined) {
      this.resHeader = new Headers({ "content-type": contentTypeProto });
      if (this.compression !== null) this.resHeader.set("grpc-encoding", this.compression.name);
    }
    return this.resHeader;
  }

  responseTrailer(): Headers {
    this.resTrailer ??= new Headers({ "grpc-status": grpcStatusOk });
    return this.resTrailer;
  }

  values(): ContextValues {
    this.contextValues ??= createContextValues();
    return this.contextValues;
  }

  url(): string {
    const scheme = this.stream.session?.encrypted ? "https" : "http";
    return new URL(this.headers[":path"] ?? "", `${scheme}://${this.authority}`).toString();
  }
}

const EMPTY = new Uint8Array(0);

function copyOf(buffer: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  buffer.copy(out, 0, start, end);
  return out;
}

function frame(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + data.byteLength);
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

function encodedHeaders(name: string): http2.OutgoingHttpHeaders {
  let headers = ENCODED_HEADERS.get(name);
  if (headers === undefined) {
    // Sorted as connect's Headers object sorts them: content-type, grpc-encoding.
    headers = { ":status": 200, "content-type": contentTypeProto, "grpc-encoding": name };
    ENCODED_HEADERS.set(name, headers);
  }
  return headers;
}

function deadlineError(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}

// Shared listeners (no closure per call): `this` is the stream, the call hangs off it.

function ignore(): void {}

function onData(this: CallStream, chunk: Buffer): void {
  this[kCall]?.data(chunk);
}

function onEnd(this: CallStream): void {
  this[kCall]?.end();
}

function onWantTrailers(this: CallStream): void {
  this.sendTrailers(this[kCall]?.trailers ?? OK_TRAILERS);
}

function onClose(this: CallStream): void {
  this[kCall]?.abortWith(errorFromResetCode(this.rstCode));
}

function onDeadline(call: UnaryCall): void {
  call.abortWith(deadlineError());
}
