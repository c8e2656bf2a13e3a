import type * as http2 from "node:http2";
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
import type { CallTransport } from "./call-transport.js";
import { errorFromThrown } from "./errors.js";
import type { FastMethod } from "./fast-method.js";
import { nodeHeadersFromWeb } from "./headers.js";
import { reportUnaryCall } from "./trailer-hook.js";

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
//
// This file is the part that does not depend on the transport: which calls
// are served ({@link connectPostPlan}, {@link connectGetPlan}) and one
// call's course ({@link ConnectUnaryCall}). connect-unary-http2.ts writes
// the answer on an HTTP/2 stream, connect-unary-http1.ts on an HTTP/1.1
// response, each as connect-node writes it there.

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

/** What the checks found about a Connect unary call to serve: the call's parameters. */
export interface ConnectPlan {
  /** The request's authority (`:authority`, or HTTP/1.1's `host`), for `context.url`. */
  readonly authority: string;
  /** connect-timeout-ms, as parseTimeout gives it, if any. */
  readonly timeoutMs: number | undefined;
  /** The response's compression, as negotiated from accept-encoding, or null. */
  readonly compression: Compression | null;
  /** application/proto (true) or application/json (false); a GET's `encoding`. */
  readonly binary: boolean;
  /** The HTTP method, as the handler's context reports it. */
  readonly requestMethod: "POST" | "GET";
  /** content-length, or -1 without one. */
  readonly lengthHint: number;
  /** A GET's message, from its query; undefined for a POST (its body is the message). */
  readonly getMessage: Uint8Array | undefined;
}

/**
 * The plan for a Connect unary POST if connect-node would get as far as
 * reading its body; undefined (the caller falls back) otherwise. `headers`
 * are Node's, HTTP/2 or HTTP/1.1 alike.
 */
export function connectPostPlan(m: FastMethod, headers: http2.IncomingHttpHeaders): ConnectPlan | undefined {
  const contentType = headers["content-type"];
  let binary: boolean;
  if (contentType === contentTypeUnaryProto) binary = true;
  else if (contentType === contentTypeUnaryJson) binary = false;
  else if (contentType !== undefined && contentTypeUnaryRegExp.test(contentType)) {
    binary = parseContentType(contentType)?.binary === true;
  } else return undefined;
  const encoding = headers["content-encoding"];
  // A compressed request: connect-node decompresses it (and its JSON limits see through it).
  if (encoding !== undefined && encoding !== "identity") return undefined;
  const lengthHint = headers["content-length"];
  let hint = -1;
  if (lengthHint !== undefined) {
    if (!/^\d{1,15}$/.test(lengthHint)) return undefined;
    hint = Number(lengthHint);
    // connect-node answers these before reading a byte.
    if (hint > m.readMaxBytes) return undefined;
    if (!binary && m.jsonLimits !== undefined && hint > m.jsonLimits.readMaxBytes) return undefined;
  }
  if (m.requireConnectProtocolHeader && headers["connect-protocol-version"] !== "1") return undefined;
  const common = commonChecks(m, headers, null);
  if (common === undefined) return undefined;
  return { ...common, binary, requestMethod: "POST", lengthHint: hint, getMessage: undefined };
}

/**
 * The plan for a Connect unary GET (`?message=…&encoding=…&base64=…`) of a
 * NO_SIDE_EFFECTS method if connect-node would get as far as parsing its
 * message; undefined (the caller falls back) otherwise. `query` is the
 * path after its `?`.
 */
export function connectGetPlan(
  m: FastMethod,
  headers: http2.IncomingHttpHeaders,
  query: string,
): ConnectPlan | undefined {
  // With a content type, connect-node's protocol negotiation decides (and mostly answers 415).
  if (headers["content-type"] !== undefined || !PLAIN_QUERY.test(query)) return undefined;
  const params = new URLSearchParams(query);
  const encoding = params.get("encoding");
  if (encoding !== "proto" && encoding !== "json") return undefined;
  const compression = params.get("compression");
  if (compression !== null && compression !== "identity") return undefined;
  if (m.requireConnectProtocolHeader && params.get("connect") !== "v1") return undefined;
  const common = commonChecks(m, headers, compression);
  if (common === undefined) return undefined;
  const text = params.get("message") ?? "";
  let message: Uint8Array;
  if (params.get("base64") === "1") {
    try {
      message = base64Decode(text);
    } catch {
      return undefined;
    }
  } else {
    message = new TextEncoder().encode(text);
  }
  return {
    ...common,
    binary: encoding === "proto",
    requestMethod: "GET",
    lengthHint: -1,
    getMessage: message,
  };
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

/** Response headers as the transport's write takes them (Node's outgoing header object, no `:status`). */
export type ConnectResponseHeaders = Record<string, string | string[]>;

/**
 * One Connect unary call, from the request's first byte to its answer,
 * whatever carries it. The body is read whole (as connect's
 * `readAllBytes`, with its errors at its bytes, and the JSON limits checked
 * chunk by chunk as `limitJsonBody` checks them), parsed, and the
 * implementation runs with a {@link CallContext}; the answer (status,
 * headers sorted as connect's `Headers` with trailers as `trailer-`
 * headers, content-length, body) goes to {@link write}, which the
 * transport's subclass implements as connect-node writes there.
 *
 * The transport passes the request body on with {@link data} and
 * {@link end}, and calls {@link start} once its listeners are on.
 */
export abstract class ConnectUnaryCall implements ImplementationOutcome {
  private state = READING;
  protected readonly callContext: CallContext;
  private readonly json: JsonText | undefined;
  private chunks: Buffer[] = [];
  /** Request body bytes received. */
  protected received = 0;
  /** The request body has ended. */
  protected requestEnded = false;
  /** The status code the response carries, for telemetry. */
  protected code = 0;
  /** Response body bytes written, for telemetry. */
  protected sentBytes = 0;
  /** The implementation ran and its outcome is not yet reported to the trailer hook. */
  private ran = false;
  private readonly compression: Compression | null;
  private readonly binary: boolean;
  private readonly lengthHint: number;

  constructor(
    protected readonly m: FastMethod,
    transport: CallTransport,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly plan: ConnectPlan,
    protected readonly observed: ServerCall | undefined,
  ) {
    this.compression = plan.compression;
    this.binary = plan.binary;
    this.lengthHint = plan.lengthHint;
    this.callContext = new CallContext(m, transport, headers, plan.authority, plan.timeoutMs, null, {
      requestMethod: plan.requestMethod,
      contentType: plan.binary ? contentTypeUnaryProto : contentTypeUnaryJson,
    });
    this.json =
      !plan.binary && plan.getMessage === undefined ? m.jsonLimits && new JsonText(m.jsonLimits) : undefined;
  }

  /** Starts the call once the transport listens: a GET runs at once (connect-node never reads its body). */
  protected start(): void {
    const message = this.plan.getMessage;
    if (message !== undefined) {
      this.state = RUNNING;
      this.run(message);
    }
  }

  /** Whether the call has its outcome (answered, or being answered). */
  protected get answered(): boolean {
    return this.state === DONE;
  }

  // --- reading ---------------------------------------------------------

  /** A chunk of the request body arrived. */
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
    const refused = this.admit(chunk);
    if (refused !== undefined) {
      this.fail(refused);
      return;
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

  /**
   * A chunk passed the JSON limits and is about to be counted: the
   * transport may refuse it (returns the error to fail with), e.g. when the
   * server holds too many request bytes. Default: admitted.
   */
  protected admit(_chunk: Buffer): unknown {
    return undefined;
  }

  /** The request body ended. */
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

  /** The call failed (the implementation, the request, a limit): answer with the error, as connect's Connect unary handler does. */
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
  protected settle(reason: unknown): void {
    this.state = DONE;
    this.chunks = [];
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
          // connect-node's handler rejects: it logs and never answers.
          this.escaped(err);
          this.abandon();
        },
      );
      return;
    }
    this.write(status, body, failed);
  }

  /**
   * The response headers connect-node writes for a body of `length` bytes:
   * the handler's headers and trailers (`trailer-` headers) with
   * content-length, sorted as connect's `Headers` (`touched`: something
   * set them), else the plain two. `asHttp2` drops a `connection` header as
   * Http2ServerResponse does.
   */
  protected responseHeaders(length: number, touched: boolean, asHttp2: boolean): ConnectResponseHeaders {
    const resHeader = this.callContext.touchedResponseHeader;
    const resTrailer = this.callContext.touchedResponseTrailer;
    if (touched || resHeader !== undefined || resTrailer !== undefined) {
      const all = trailerMux(this.callContext.responseHeader(), this.callContext.responseTrailer());
      all.set("content-length", String(length));
      return nodeHeadersFromWeb(all, asHttp2) as ConnectResponseHeaders;
    }
    // Sorted as connect's Headers would send them: content-length, content-type.
    return {
      "content-length": String(length),
      "content-type": this.binary ? contentTypeUnaryProto : contentTypeUnaryJson,
    };
  }

  /**
   * Writes the answer: `status`, `body`, and the headers from
   * {@link responseHeaders} (`touched`: the error path or compression set
   * some). Writes nothing on a transport that is gone.
   */
  protected abstract write(status: number, body: Uint8Array, touched: boolean): void;

  /** Gives up on a call that cannot be answered (compression failed): reset or close. */
  protected abstract abandon(): void;

  /** An exception escaped the call's own handling (a bug): report it; the transport abandons the call next. */
  abstract escaped(err: unknown): void;

  /** Ends the call's telemetry with this status code. */
  observedEnd(code: number): void {
    this.observed?.end(code, this.sentBytes, this.received);
  }

  /** Marks the call done without an answer (its transport went away or it escaped). */
  protected giveUp(): void {
    this.state = DONE;
    this.chunks = [];
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
