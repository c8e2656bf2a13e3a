import type * as http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { resetStream } from "../escaped.js";
import type { FastMethod } from "./fast-method.js";
import { OK_TRAILERS, RESPOND_OPTIONS } from "./unary-response.js";

/** What a stream's events are passed on to: the call it carries. */
export interface StreamCall {
  /** A chunk of the request body arrived. */
  data(chunk: Buffer): void;
  /** The request body ended. */
  end(): void;
  /**
   * The response body is out and the stream asks for trailers: send them
   * (`stream.sendTrailers`, possibly empty) and end the call's telemetry.
   */
  sendTrailers(stream: http2.ServerHttp2Stream): void;
  /** Ends the call's telemetry with this status code. */
  observedEnd(code: number): void;
  /** An exception escaped the call's own handling (a bug): report it; the stream is reset next. */
  escaped(err: unknown): void;
}

// The stream's events go to listener functions shared by every call (no
// closure per call): `this` is the stream, and the call hangs off it.

/** The stream property that leads shared event listeners to their call. */
const kCall = Symbol("grpcUnaryCall");
type CallStream = http2.ServerHttp2Stream & { [kCall]?: StreamCall };

/**
 * Hangs `call` off its stream and passes the stream's events on to it.
 * `observed`: the call has telemetry to end when the stream closes before
 * its trailers went out (the call was cut short).
 */
export function listenToStream(stream: http2.ServerHttp2Stream, call: StreamCall, observed: boolean): void {
  (stream as CallStream)[kCall] = call;
  // Http2ServerRequest keeps a no-op 'error' listener so that stream errors
  // (resets, a session torn down) never become uncaught exceptions.
  stream.on("error", ignore);
  stream.on("data", onData);
  stream.on("end", onEnd);
  // Ended once, first wins: by the trailers, or by the close.
  if (observed) stream.once("close", onCloseObserved);
}

/** Sends the call's trailers when the stream asks for them (`respond` with `waitForTrailers`). */
export function sendTrailersWhenWanted(stream: http2.ServerHttp2Stream): void {
  stream.on("wantTrailers", onWantTrailers);
}

/**
 * Answers a unary call's headers, its trailers to follow when the stream
 * asks for them, as Http2ServerResponse does. When `respond` throws (a
 * handler set a connection-specific header, say), does what connect-node
 * does when writeHead throws: logs it and leaves the stream unanswered.
 * @param m - the method, named in the log line.
 * @returns false when the headers could not be sent.
 */
export function respondOrLog(
  stream: http2.ServerHttp2Stream,
  headers: http2.OutgoingHttpHeaders,
  m: FastMethod,
): boolean {
  sendTrailersWhenWanted(stream);
  try {
    stream.respond(headers, RESPOND_OPTIONS);
    return true;
  } catch (err) {
    console.error(`handler for rpc ${m.method.name} of ${m.service.typeName} failed`, err);
    return false;
  }
}

function ignore(): void {}

// Each listener runs inside Node's stream machinery, where a throw would
// be an uncaught exception: one that escapes the call is reported to it
// and the stream is reset, and every other call goes on.

function onData(this: CallStream, chunk: Buffer): void {
  try {
    this[kCall]?.data(chunk);
  } catch (err) {
    escapedFrom(this, err);
  }
}

function onEnd(this: CallStream): void {
  try {
    this[kCall]?.end();
  } catch (err) {
    escapedFrom(this, err);
  }
}

function onWantTrailers(this: CallStream): void {
  try {
    const call = this[kCall];
    if (call === undefined) this.sendTrailers(OK_TRAILERS);
    else call.sendTrailers(this);
  } catch (err) {
    escapedFrom(this, err);
  }
}

function escapedFrom(stream: CallStream, err: unknown): void {
  stream[kCall]?.escaped(err);
  resetStream(stream);
}

function onCloseObserved(this: CallStream): void {
  this[kCall]?.observedEnd(Code.Canceled);
}
