import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromNodeReason, errorFromReset } from "./h2-errors.js";
import type { Subchannel } from "./subchannel.js";

const { NGHTTP2_CANCEL } = http2.constants;

/** One exchange in progress, as its protocol's reader sees it. */
export interface UnaryExchange<R> {
  /** Ends the call: fails it with `err`, or succeeds with `result`. Later calls are ignored. */
  finish(err: ConnectError | undefined, result?: R): void;
  /** True once the call has ended (a deadline, a cancel, an error or a result). */
  readonly settled: boolean;
}

/** What a protocol (gRPC, Connect) adds to the shared skeleton of {@link unaryExchange}. */
export interface UnaryProtocol<R> {
  /**
   * The HTTP/2 error code to reset a stream the call gave up on with:
   * connect-node's gRPC transport always says CANCEL, its Connect transport
   * says INTERNAL_ERROR unless the call was canceled.
   */
  resetCode(err: ConnectError): number;
  /**
   * Called once when response headers that do not already end the call
   * arrive (HTTP 200 without grpc-status, i.e. not a trailers-only or
   * Connect error response): a hedged call commits to this attempt then
   * (gRFC A6). Undefined: nobody asks.
   */
  readonly onHeaders?: (() => void) | undefined;
  /** Reads the response: listens for "response", "trailers", "data" on the stream. */
  read(stream: http2.ClientHttp2Stream, call: UnaryExchange<R>): void;
  /**
   * The stream closed, unsettled, with no reset code that fails it: decode
   * what was read, or fail. `sessionLost`: the connection went away under
   * the stream; a call with no response yet then fails with
   * {@link connectionLostError}, not a protocol error.
   */
  closed(stream: http2.ClientHttp2Stream, call: UnaryExchange<R>, sessionLost: boolean): void;
}

/**
 * UNAVAILABLE for a call whose connection went away before the server
 * answered it: the call may or may not have run, and gRPC says UNAVAILABLE
 * there too (connect-node would say INTERNAL).
 */
export function connectionLostError(): ConnectError {
  return new ConnectError("connection closed before the server answered the call", Code.Unavailable);
}

/**
 * The skeleton both fast unary paths share: a deadline and an abort signal
 * that end the call (resetting its stream), a stream on the subchannel's
 * READY connection, stream errors and resets mapped as connect-node maps
 * them. The protocol reads the response and decodes it.
 */
export function unaryExchange<R>(
  subchannel: Subchannel,
  headers: http2.OutgoingHttpHeaders,
  body: Uint8Array | undefined,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  protocol: UnaryProtocol<R>,
): Promise<R> {
  if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  return new Promise<R>((resolve, reject) => {
    let stream: http2.ClientHttp2Stream | undefined;
    let timer: NodeJS.Timeout | undefined;
    // With connection scaling the stream may wait in the subchannel's queue:
    // a call that ends first (aborted or timed out) leaves it, so that it
    // asks for no more connections. Only then is the controller worth its cost.
    const stopWaiting = subchannel.queuesStreams ? new AbortController() : undefined;
    const call: UnaryExchange<R> & { settled: boolean } = {
      settled: false,
      finish(err, result) {
        if (call.settled) return;
        call.settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (stream === undefined) stopWaiting?.abort(err);
        if (err) {
          if (stream && !stream.closed) stream.close(protocol.resetCode(err));
          reject(err);
        } else resolve(result as R);
      },
    };
    const onAbort = () => call.finish(ConnectError.from(signal?.reason, Code.Canceled));
    signal?.addEventListener("abort", onAbort);
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => call.finish(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        timeoutMs,
      );
    }
    subchannel.openStream(headers, {}, stopWaiting?.signal).then(
      (s) => {
        stream = s;
        if (call.settled) {
          s.close(NGHTTP2_CANCEL);
          return;
        }
        const session = s.session;
        const onHeaders = protocol.onHeaders;
        if (onHeaders !== undefined) {
          s.once("response", (h) => {
            if (!call.settled && h[":status"] === 200 && h["grpc-status"] === undefined) onHeaders();
          });
        }
        protocol.read(s, call);
        // Stream errors and resets fail the call as connect-node fails it.
        s.on("error", (err: Error & { code?: string }) => {
          if (err.code === "ERR_STREAM_WRITE_AFTER_END" && s.writableEnded) return;
          call.finish(errorFromNodeReason(err));
        });
        s.on("close", () => {
          if (call.settled) return;
          const reset = errorFromReset(s.rstCode);
          if (reset) {
            call.finish(reset);
            return;
          }
          // Closed after GOAWAY, or destroyed: the connection went away under the stream.
          // (The session as it was at open: a closed stream no longer names it.)
          protocol.closed(s, call, session === undefined || session.closed || session.destroyed);
        });
        s.end(body);
      },
      (err: unknown) => call.finish(ConnectError.from(err)),
    );
  });
}
