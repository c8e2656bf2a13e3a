import * as http2 from "node:http2";
import { create, type DescMethod, type DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  createContextValues,
  createHandlerContext,
  type HandlerContext,
} from "@connectrpc/connect";
import {
  type Compression,
  getAbortSignalReason,
  invokeUnaryImplementation,
} from "@connectrpc/connect/protocol";
import { contentTypeProto, grpcStatusOk, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { context } from "@opentelemetry/api";
import type { ServerCall } from "../telemetry/server-telemetry.js";
import { type LazyContextSource, LazyHandlerContext } from "./context.js";
import type { FastMethod } from "./fast-method.js";
import { errorFromResetCode, nodeHeadersFromWeb, webHeadersFromNode } from "./headers.js";

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
export class UnaryCall implements LazyContextSource {
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
  /** The response message's bytes, for telemetry. */
  private sentBytes = 0;
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
  /** The implementation ran and its outcome is not yet reported to the trailer hook. */
  private ran = false;
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
    /** The call's telemetry (ServerTelemetry.startCall), when metrics or tracing are on. */
    private readonly observed: ServerCall | undefined = undefined,
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
    // Closed before its trailers went out: the call was cut short (ended once, first wins).
    if (observed) stream.once("close", onCloseObserved);
  }

  /** Ends the call's telemetry with `code`: message bytes without their 5-byte prefixes. */
  observedEnd(code: number): void {
    const rcvd = Math.max(0, this.received - 5 * this.messages);
    this.observed?.end(code, this.sentBytes, rcvd);
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
      if (this.observed) context.with(this.observed.context, () => this.invoke());
      else this.invoke();
    }
  }

  // --- running ----------------------------------------------------------

  private invoke(): void {
    this.state = RUNNING;
    this.body = undefined;
    this.ran = true;
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
    const hooked = this.reportToHook(false);
    if (hooked !== undefined) {
      if (this.resTrailer !== undefined) this.resTrailer.set(hooked[0], hooked[1]);
      // Sorted, as connect's Headers would send them.
      else this.trailers = sortedTrailers(hooked[0], hooked[1]);
    }
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
    const hooked = this.reportToHook(true);
    if (hooked !== undefined) error.metadata.set(hooked[0], hooked[1]);
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
    this.sentBytes = body === undefined ? 0 : body.byteLength - 5;
    if (body === undefined) stream.end();
    else stream.end(body);
  }

  /**
   * Tells the trailer hook, once, how the implementation ended (as the
   * outermost interceptor would see it); returns the trailer to add, if any.
   * Calls that never reached the implementation are not reported.
   */
  private reportToHook(failed: boolean): [name: string, value: string] | undefined {
    const hook = this.m.trailerHook;
    if (hook === undefined || !this.ran) return undefined;
    this.ran = false;
    hook.recordCall(failed);
    const value = hook.trailerValue(this.headerValue);
    return value === undefined ? undefined : [hook.trailerName, value];
  }

  /** A request header's value, for the trailer hook. */
  private readonly headerValue = (name: string): string | undefined => {
    const v = this.headers[name];
    return v === undefined || typeof v === "string" ? v : v.join(", ");
  };

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

/** grpc-status 0 and one more trailer, in the order connect's sorted Headers send them. */
function sortedTrailers(name: string, value: string): http2.OutgoingHttpHeaders {
  return name < "grpc-status"
    ? { [name]: value, "grpc-status": grpcStatusOk }
    : { "grpc-status": grpcStatusOk, [name]: value };
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
  const trailers = this[kCall]?.trailers ?? OK_TRAILERS;
  this.sendTrailers(trailers);
  this[kCall]?.observedEnd(Number(trailers["grpc-status"] ?? Code.Unknown));
}

function onCloseObserved(this: CallStream): void {
  this[kCall]?.observedEnd(Code.Canceled);
}

function onClose(this: CallStream): void {
  this[kCall]?.abortWith(errorFromResetCode(this.rstCode));
}

function onDeadline(call: UnaryCall): void {
  call.abortWith(deadlineError());
}
