import * as http2 from "node:http2";
import { listenToStream, respondOrLog, type StreamCall } from "./call-stream.js";
import { Http2CallTransport } from "./call-transport.js";
import { type ConnectPlan, ConnectUnaryCall, connectGetPlan, connectPostPlan } from "./connect-unary.js";
import type { FastMethod } from "./fast-method.js";

// Connect unary calls on an HTTP/2 stream, answered with the frames of
// Http2ServerResponse, which connect-node writes through.

/** What Http2ServerResponse sends as trailers when none were added: an empty DATA frame with END_STREAM. */
const NO_TRAILERS: http2.OutgoingHttpHeaders = Object.freeze(Object.create(null));

/**
 * Starts serving a Connect unary POST on `stream` if connect-node would get
 * as far as reading its body; returns false (stream untouched) otherwise.
 */
export function acceptConnectPost(
  m: FastMethod,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
): boolean {
  const plan = connectPostPlan(m, headers);
  if (plan === undefined) return false;
  new Http2ConnectUnaryCall(m, stream, headers, rawHeaders, plan);
  return true;
}

/**
 * Starts serving a Connect unary GET of a NO_SIDE_EFFECTS method on
 * `stream` if connect-node would get as far as parsing its message;
 * returns false (stream untouched) otherwise. `query` is the `:path` after
 * its `?`.
 */
export function acceptConnectGet(
  m: FastMethod,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  query: string,
): boolean {
  const plan = connectGetPlan(m, headers, query);
  if (plan === undefined) return false;
  new Http2ConnectUnaryCall(m, stream, headers, rawHeaders, plan);
  return true;
}

/**
 * A Connect unary call on an HTTP/2 stream. The response goes out with the
 * `respond` / `end` / empty trailers sequence of Http2ServerResponse; a
 * request still open after its response (an early error) is reset with
 * NO_ERROR, as connect-node does.
 */
class Http2ConnectUnaryCall extends ConnectUnaryCall implements StreamCall {
  constructor(
    m: FastMethod,
    private readonly stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
    plan: ConnectPlan,
  ) {
    const observed = m.telemetry?.startCall(m.fullName, headers);
    super(m, new Http2CallTransport(stream, headers, rawHeaders), headers, plan, observed);
    listenToStream(stream, this, observed !== undefined);
    this.start();
  }

  protected write(status: number, body: Uint8Array, touched: boolean): void {
    const stream = this.stream;
    // Http2ServerResponse writes nothing on a stream that is gone.
    if (stream.destroyed || stream.closed) return;
    const headers: http2.OutgoingHttpHeaders = this.responseHeaders(body.byteLength, touched, true);
    headers[":status"] = status;
    if (!respondOrLog(stream, headers, this.m)) return;
    this.sentBytes = body.byteLength;
    stream.end(body);
  }

  protected abandon(): void {
    this.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }

  sendTrailers(stream: http2.ServerHttp2Stream): void {
    stream.sendTrailers(NO_TRAILERS);
    this.observedEnd(this.code);
    // As connect-node: a client still sending its request is told to stop, without an error.
    if (!this.requestEnded) setImmediate(closeIfStillSending, stream);
  }

  escaped(err: unknown): void {
    this.giveUp();
    this.m.onEscapedError(err, this.stream, this.m.fullName);
  }
}

function closeIfStillSending(stream: http2.ServerHttp2Stream): void {
  if (stream.state.remoteClose === 0) stream.close(http2.constants.NGHTTP2_NO_ERROR);
}
