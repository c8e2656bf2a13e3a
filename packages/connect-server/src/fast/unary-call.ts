import type * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { context } from "@opentelemetry/api";
import type { ServerCall } from "../telemetry/server-telemetry.js";
import { CallContext, type ImplementationOutcome, runUnaryImplementation } from "./call-context.js";
import { listenToStream, respondOrLog, type StreamCall } from "./call-stream.js";
import { Http2CallTransport } from "./call-transport.js";
import { errorFromThrown } from "./errors.js";
import type { FastMethod } from "./fast-method.js";
import { nodeHeadersFromWeb } from "./headers.js";
import { UnaryRequestReader } from "./request-reader.js";
import { reportUnaryCall } from "./trailer-hook.js";
import { frame, OK_TRAILERS, responseHeaders, sortedTrailers } from "./unary-response.js";

const READING = 0;
const RUNNING = 1;
const DONE = 2;

/**
 * One call, from the request's first byte to its trailers. A
 * {@link UnaryRequestReader} reads the request envelope by envelope as
 * connect's pipeline would (each error raised at the byte connect raises
 * it); once the request has ended the implementation runs, its context
 * reading a {@link CallContext}; the response goes out with the same
 * `respond` / `end` / `sendTrailers` sequence as connect-node's
 * `universalResponseToNodeResponse` on an Http2ServerResponse.
 */
export class UnaryCall implements StreamCall, ImplementationOutcome {
  private state = READING;
  private readonly request: UnaryRequestReader;
  private readonly callContext: CallContext;
  /** The response message's bytes, for telemetry. */
  private sentBytes = 0;
  /** The implementation ran and its outcome is not yet reported to the trailer hook. */
  private ran = false;
  /** Trailers for 'wantTrailers'. */
  trailers: http2.OutgoingHttpHeaders = OK_TRAILERS;

  constructor(
    private readonly m: FastMethod,
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
    authority: string,
    timeoutMs: number | undefined,
    private readonly compression: Compression | null,
    /** The call's telemetry (ServerTelemetry.startCall), when metrics or tracing are on. */
    private readonly observed: ServerCall | undefined = undefined,
  ) {
    this.callContext = new CallContext(
      m,
      new Http2CallTransport(stream, headers, rawHeaders),
      headers,
      authority,
      timeoutMs,
      compression,
    );
    this.request = new UnaryRequestReader(m);
    listenToStream(stream, this, observed !== undefined);
  }

  sendTrailers(stream: http2.ServerHttp2Stream): void {
    stream.sendTrailers(this.trailers);
    this.observedEnd(Number(this.trailers["grpc-status"] ?? Code.Unknown));
  }

  /** Ends the call's telemetry with `code`: message bytes without their 5-byte prefixes. */
  observedEnd(code: number): void {
    this.observed?.end(code, this.sentBytes, this.request.messageBytes);
  }

  /** An exception escaped this call's handling: report it (its stream is reset next). */
  escaped(err: unknown): void {
    this.state = DONE;
    this.m.onEscapedError(err, this.stream, this.m.fullName);
  }

  // --- reading ---------------------------------------------------------

  data(chunk: Buffer): void {
    if (this.state !== READING) return;
    const error = this.request.push(chunk);
    if (error !== undefined) this.fail(error);
  }

  end(): void {
    if (this.state !== READING) return;
    const error = this.request.end();
    if (error !== undefined) this.fail(error);
    else if (this.observed) context.with(this.observed.context, () => this.invoke());
    else this.invoke();
  }

  // --- running ----------------------------------------------------------

  private invoke(): void {
    this.state = RUNNING;
    this.ran = true;
    runUnaryImplementation(this.m, this.callContext, this.request.message, this);
  }

  /** The implementation returned `value`: answer with it (see {@link runUnaryImplementation}). */
  succeed(value: unknown): void {
    if (this.state === DONE) return;
    const hooked = this.reportToHook(false);
    if (hooked !== undefined) {
      const trailer = this.callContext.touchedResponseTrailer;
      if (trailer !== undefined) trailer.set(hooked[0], hooked[1]);
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
  /** The call failed (the implementation, the request, a limit): answer with the error. */
  fail(reason: unknown): void {
    if (this.state === DONE) return;
    this.settle(reason);
    const error = errorFromThrown(reason);
    const hooked = this.reportToHook(true);
    if (hooked !== undefined) error.metadata.set(hooked[0], hooked[1]);
    this.trailers = nodeHeadersFromWeb(setTrailerStatus(this.callContext.responseTrailer(), error), false);
    this.respond(undefined);
  }

  /** connect's `context.abort(reason)` once the call has its outcome. */
  private settle(reason: unknown): void {
    this.state = DONE;
    this.callContext.settle(reason);
  }

  private respond(body: Uint8Array | undefined): void {
    const stream = this.stream;
    // Http2ServerResponse writes nothing on a stream that is gone.
    if (stream.destroyed || stream.closed) return;
    const trailer = this.callContext.touchedResponseTrailer;
    if (trailer !== undefined && this.trailers === OK_TRAILERS)
      this.trailers = nodeHeadersFromWeb(trailer, false);
    const headers = responseHeaders(this.callContext.touchedResponseHeader, this.compression);
    if (!respondOrLog(stream, headers, this.m)) return;
    this.sentBytes = body === undefined ? 0 : body.byteLength - 5;
    if (body === undefined) stream.end();
    else stream.end(body);
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
