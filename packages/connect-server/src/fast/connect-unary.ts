import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  mergeNonProtocolHeaders,
} from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  contentTypeUnaryRegExp,
  errorToJsonBytes,
  headerUnaryAcceptEncoding,
  parseContentType,
  parseTimeout,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";
import { context } from "@opentelemetry/api";
import { JsonText } from "../json-limits.js";
import type { ServerCall } from "../telemetry/server-telemetry.js";
import { clampTimeouts } from "../timeouts.js";
import { CallContext, type ImplementationOutcome, runUnaryImplementation } from "./call-context.js";
import { listenToStream, type StreamCall, sendTrailersWhenWanted } from "./call-stream.js";
import { errorFromThrown } from "./errors.js";
import type { FastMethod } from "./fast-method.js";
import { nodeHeadersFromWeb } from "./headers.js";
import { reportUnaryCall } from "./trailer-hook.js";
import { RESPOND_OPTIONS } from "./unary-response.js";

// The Connect protocol's unary calls (POST with application/proto or
// application/json, and GET for NO_SIDE_EFFECTS methods), answered as
// connect's Connect unary handler (protocol-connect/handler-factory.ts)
// answers them through connect-node's adapter: every check that can fail
// before the body is read (content type, content-encoding, timeout,
// content-length over a limit, the protocol version when required, GET
// parameters) is made here, and a call that would fail one is left to
// connect-node, which answers it. What is served fast answers with
// connect's own functions: parseTimeout, compressionNegotiate, the method's
// serializations (read/write limits and parse errors), errorToJsonBytes,
// codeToHttpStatus, mergeNonProtocolHeaders, trailerMux.

/**
 * Authorities that make a valid URL (host or [IPv6], optional port), as
 * connect-node builds `context.url` from them; anything odder falls back.
 */
const SIMPLE_AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-_~]+)(?::[0-9]{1,5})?$/;
/**
 * Query strings that WHATWG URL parsing leaves as they are up to what
 * URLSearchParams decodes anyway: connect reads a GET's parameters from
 * `new URL(url).searchParams`, the fast path from the raw query. Anything
 * else (a `#`, spaces, non-ASCII) falls back.
 */
const PLAIN_QUERY = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*$/;
/** At most this many distinct accept-encoding values remembered per method. */
const NEGOTIATION_CACHE_SIZE = 32;
/** What Http2ServerResponse sends as trailers when none were added: an empty DATA frame with END_STREAM. */
const NO_TRAILERS: http2.OutgoingHttpHeaders = Object.freeze(Object.create(null));

/**
 * Starts serving a Connect unary POST if connect-node would get as far as
 * reading its body; returns false (stream untouched) otherwise.
 */
export function acceptConnectPost(
  m: FastMethod,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
): boolean {
  const contentType = headers["content-type"];
  let binary: boolean;
  if (contentType === contentTypeUnaryProto) binary = true;
  else if (contentType === contentTypeUnaryJson) binary = false;
  else if (contentType !== undefined && contentTypeUnaryRegExp.test(contentType)) {
    binary = parseContentType(contentType)?.binary === true;
  } else return false;
  const encoding = headers["content-encoding"];
  // A compressed request: connect-node decompresses it (and its JSON limits see through it).
  if (encoding !== undefined && encoding !== "identity") return false;
  const lengthHint = headers["content-length"];
  let hint = -1;
  if (lengthHint !== undefined) {
    if (!/^\d{1,15}$/.test(lengthHint)) return false;
    hint = Number(lengthHint);
    // connect-node answers these before reading a byte.
    if (hint > m.readMaxBytes) return false;
    if (!binary && m.jsonLimits !== undefined && hint > m.jsonLimits.readMaxBytes) return false;
  }
  if (m.requireConnectProtocolHeader && headers["connect-protocol-version"] !== "1") return false;
  const common = commonChecks(m, headers, null);
  if (common === undefined) return false;
  const observed = m.telemetry?.startCall(m.fullName, headers);
  new ConnectUnaryCall(m, stream, headers, rawHeaders, common, binary, "POST", hint, observed, undefined);
  return true;
}

/**
 * Starts serving a Connect unary GET (`?message=…&encoding=…&base64=…`) of
 * a NO_SIDE_EFFECTS method if connect-node would get as far as parsing its
 * message; returns false (stream untouched) otherwise. `query` is the
 * `:path` after its `?`.
 */
export function acceptConnectGet(
  m: FastMethod,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  query: string,
): boolean {
  // With a content type, connect-node's protocol negotiation decides (and mostly answers 415).
  if (headers["content-type"] !== undefined || !PLAIN_QUERY.test(query)) return false;
  const params = new URLSearchParams(query);
  const encoding = params.get("encoding");
  if (encoding !== "proto" && encoding !== "json") return false;
  const compression = params.get("compression");
  if (compression !== null && compression !== "identity") return false;
  if (m.requireConnectProtocolHeader && params.get("connect") !== "v1") return false;
  const common = commonChecks(m, headers, compression);
  if (common === undefined) return false;
  const text = params.get("message") ?? "";
  let message: Uint8Array;
  if (params.get("base64") === "1") {
    try {
      message = base64Decode(text);
    } catch {
      return false;
    }
  } else {
    message = new TextEncoder().encode(text);
  }
  const observed = m.telemetry?.startCall(m.fullName, headers);
  new ConnectUnaryCall(
    m,
    stream,
    headers,
    rawHeaders,
    common,
    encoding === "proto",
    "GET",
    -1,
    observed,
    message,
  );
  return true;
}

/** What POST and GET share: authority, Expect, timeout and response compression. */
interface CommonCall {
  readonly authority: string;
  readonly timeoutMs: number | undefined;
  readonly compression: Compression | null;
}

function commonChecks(
  m: FastMethod,
  headers: http2.IncomingHttpHeaders,
  requested: string | null,
): CommonCall | undefined {
  // Node's 'request' path answers Expect itself (100-continue, 417).
  if (headers.expect !== undefined) return undefined;
  const authority = headers[":authority"] ?? headers.host;
  if (authority === undefined || !SIMPLE_AUTHORITY.test(authority)) return undefined;
  let timeoutMs: number | undefined;
  if (headers["connect-timeout-ms"] !== undefined) {
    clampTimeouts(headers);
    const timeout = headers["connect-timeout-ms"];
    if (typeof timeout !== "string") return undefined;
    const parsed = parseTimeout(timeout, m.maxTimeoutMs);
    // connect-node answers a bad or too long timeout with an error.
    if (parsed.error) return undefined;
    timeoutMs = parsed.timeoutMs;
  }
  const accept = headers["accept-encoding"];
  let compression: Compression | null = null;
  if (typeof accept === "string" && accept !== "") {
    const cached = m.negotiatedConnect.get(accept);
    if (cached !== undefined) compression = cached;
    else {
      compression = compressionNegotiate(
        m.acceptCompression,
        requested,
        accept,
        headerUnaryAcceptEncoding,
      ).response;
      if (m.negotiatedConnect.size < NEGOTIATION_CACHE_SIZE) m.negotiatedConnect.set(accept, compression);
    }
  } else if (accept !== undefined && typeof accept !== "string") {
    return undefined;
  }
  return { authority, timeoutMs, compression };
}

const READING = 0;
const RUNNING = 1;
const DONE = 2;

/**
 * One Connect unary call, from the request's first byte to the end of its
 * response. The body is read whole (as connect's `readAllBytes`, with its
 * errors at its bytes, and the JSON limits checked chunk by chunk as
 * `limitJsonBody` checks them), parsed, and the implementation runs with a
 * {@link CallContext}. The response (status, headers sorted as connect's
 * `Headers` with trailers as `trailer-` headers, content-length, body) goes
 * out with the `respond` / `end` / empty trailers sequence of
 * Http2ServerResponse; a request still open after its response is reset
 * with NO_ERROR, as connect-node does.
 */
class ConnectUnaryCall implements StreamCall, ImplementationOutcome {
  private state = READING;
  private readonly callContext: CallContext;
  private readonly json: JsonText | undefined;
  private chunks: Buffer[] = [];
  private received = 0;
  private requestEnded = false;
  /** The status code the response carries, for telemetry. */
  private code = 0;
  private sentBytes = 0;
  /** The implementation ran and its outcome is not yet reported to the trailer hook. */
  private ran = false;

  constructor(
    private readonly m: FastMethod,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
    common: CommonCall,
    private readonly binary: boolean,
    requestMethod: "POST" | "GET",
    /** content-length, or -1 without one. */
    private readonly lengthHint: number,
    private readonly observed: ServerCall | undefined,
    /** A GET's message, from its query. */
    getMessage: Uint8Array | undefined,
  ) {
    this.compression = common.compression;
    this.callContext = new CallContext(
      m,
      stream,
      headers,
      rawHeaders,
      common.authority,
      common.timeoutMs,
      null,
      { requestMethod, contentType: binary ? contentTypeUnaryProto : contentTypeUnaryJson },
    );
    this.json = !binary && getMessage === undefined ? m.jsonLimits && new JsonText(m.jsonLimits) : undefined;
    listenToStream(stream, this, observed !== undefined);
    if (getMessage !== undefined) {
      // connect-node never reads a GET's body: the call runs at once.
      this.state = RUNNING;
      this.run(getMessage);
    }
  }

  private readonly compression: Compression | null;

  // --- reading ---------------------------------------------------------

  data(chunk: Buffer): void {
    if (this.state !== READING) return;
    // As connect-node's path: the JSON limits see each chunk before readAllBytes does.
    if (this.json !== undefined) {
      try {
        this.json.scan(chunk, 0, chunk.length);
      } catch (err) {
        this.fail(err);
        return;
      }
    }
    this.received += chunk.length;
    const hint = this.lengthHint;
    if (hint >= 0 && this.received > hint) {
      this.fail(
        new ConnectError(
          `protocol error: promised ${hint} bytes, received ${this.received}`,
          Code.InvalidArgument,
        ),
      );
      return;
    }
    if (hint < 0 && this.received > this.m.readMaxBytes) {
      this.fail(
        new ConnectError(
          `message size is larger than configured readMaxBytes ${this.m.readMaxBytes}`,
          Code.ResourceExhausted,
        ),
      );
      return;
    }
    this.chunks.push(chunk);
  }

  end(): void {
    this.requestEnded = true;
    if (this.state !== READING) return;
    this.state = RUNNING;
    const hint = this.lengthHint;
    if (hint >= 0 && this.received < hint) {
      this.fail(
        new ConnectError(
          `protocol error: promised ${hint} bytes, received ${this.received}`,
          Code.InvalidArgument,
        ),
      );
      return;
    }
    // A copy (as connect's readAllBytes makes), so that the message never aliases Node's read buffers.
    const body = Buffer.concat(this.chunks, this.received);
    this.chunks = [];
    this.run(body);
  }

  // --- running ----------------------------------------------------------

  private run(bytes: Uint8Array): void {
    let input: unknown;
    try {
      input = this.binary ? this.m.parse(bytes) : this.m.parseJson(bytes);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.observed) context.with(this.observed.context, () => this.invoke(input));
    else this.invoke(input);
  }

  private invoke(input: unknown): void {
    this.ran = true;
    runUnaryImplementation(this.m, this.callContext, input, this);
  }

  /** The implementation returned `value`: answer with it (see {@link runUnaryImplementation}). */
  succeed(value: unknown): void {
    if (this.state === DONE) return;
    const hooked = this.reportToHook(false);
    // The hook's interceptor sets a response trailer: a `trailer-` header here.
    if (hooked !== undefined) this.callContext.responseTrailer().set(hooked[0], hooked[1]);
    let body: Uint8Array;
    try {
      // connect's normalize(): an init object becomes a message.
      const message = create(this.m.output, value as never);
      body = this.binary ? this.m.serialize(message) : this.m.serializeJson(message);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.settle(undefined);
    this.respond(200, body, false);
  }

  /** Ends the call with an error, as connect's Connect unary handler catches it. */
  /** The call failed (the implementation, the request, a limit): answer with the error. */
  fail(reason: unknown): void {
    if (this.state === DONE) return;
    this.settle(reason);
    const error = errorFromThrown(reason);
    const hooked = this.reportToHook(true);
    if (hooked !== undefined) error.metadata.set(hooked[0], hooked[1]);
    this.code = error.code;
    const header = this.callContext.responseHeader();
    header.set("content-type", contentTypeUnaryJson);
    // Metadata of an error parsed from the wire is not relayed.
    if (!error.isWireError) mergeNonProtocolHeaders(header, error.metadata);
    this.respond(codeToHttpStatus(error.code), errorToJsonBytes(error, this.m.jsonOptions), true);
  }

  /** connect's `context.abort(reason)` once the call has its outcome. */
  private settle(reason: unknown): void {
    this.state = DONE;
    this.callContext.settle(reason);
  }

  private respond(status: number, body: Uint8Array, failed: boolean): void {
    const compression = this.compression;
    if (compression !== null && body.byteLength >= this.m.compressMinBytes) {
      compression.compress(body).then(
        (compressed) => {
          this.callContext.responseHeader().set("content-encoding", compression.name);
          this.write(status, compressed, true);
        },
        (err: unknown) => {
          // connect-node's handler rejects: it logs and never answers; the stream is reset.
          this.escaped(err);
          this.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        },
      );
      return;
    }
    this.write(status, body, failed);
  }

  private write(status: number, body: Uint8Array, touched: boolean): void {
    const stream = this.stream;
    // Http2ServerResponse writes nothing on a stream that is gone.
    if (stream.destroyed || stream.closed) return;
    const length = String(body.byteLength);
    let headers: http2.OutgoingHttpHeaders;
    const resHeader = this.callContext.touchedResponseHeader;
    const resTrailer = this.callContext.touchedResponseTrailer;
    if (touched || resHeader !== undefined || resTrailer !== undefined) {
      const all = trailerMux(this.callContext.responseHeader(), this.callContext.responseTrailer());
      all.set("content-length", length);
      headers = nodeHeadersFromWeb(all, true);
      headers[":status"] = status;
    } else {
      // Sorted as connect's Headers would send them: content-length, content-type.
      headers = {
        ":status": status,
        "content-length": length,
        "content-type": this.binary ? contentTypeUnaryProto : contentTypeUnaryJson,
      };
    }
    sendTrailersWhenWanted(stream);
    try {
      stream.respond(headers, RESPOND_OPTIONS);
    } catch (err) {
      // What connect-node does when writeHead throws: log it and leave the stream unanswered.
      console.error(`handler for rpc ${this.m.method.name} of ${this.m.service.typeName} failed`, err);
      return;
    }
    this.sentBytes = body.byteLength;
    stream.end(body);
  }

  sendTrailers(stream: http2.ServerHttp2Stream): void {
    stream.sendTrailers(NO_TRAILERS);
    this.observedEnd(this.code);
    // As connect-node: a client still sending its request is told to stop, without an error.
    if (!this.requestEnded) setImmediate(closeIfStillSending, stream);
  }

  observedEnd(code: number): void {
    this.observed?.end(code, this.sentBytes, this.received);
  }

  escaped(err: unknown): void {
    this.state = DONE;
    this.m.onEscapedError(err, this.stream, this.m.fullName);
  }

  /**
   * Tells the trailer hook, once, how the implementation ended; returns the
   * trailer to add, if any. Calls that never reached the implementation are
   * not reported.
   */
  private reportToHook(failed: boolean): [name: string, value: string] | undefined {
    const hook = this.m.trailerHook;
    if (hook === undefined || !this.ran) return undefined;
    this.ran = false;
    return reportUnaryCall(hook, failed, this.headers);
  }
}

function closeIfStillSending(stream: http2.ServerHttp2Stream): void {
  if (stream.state.remoteClose === 0) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}
