import type * as http from "node:http";
import * as http2 from "node:http2";
import { type Logger, remoteOf } from "./log.js";

const { NGHTTP2_INTERNAL_ERROR } = http2.constants;

/**
 * An exception escaped a handler or a stream listener: a bug on our side,
 * triggered by one request. It is logged, with the connection and the
 * method, at level "error", and that request alone is abandoned
 * ({@link abandon}, or a reset of its stream); every other call goes on.
 */
export function escaped(logger: Logger, err: unknown, remote: string, path: string | undefined): void {
  logger.log("error", "a request handler threw: the request was abandoned, other calls go on", {
    remote,
    method: path,
    err,
  });
}

/** Ends a response whose handler threw: a 500 if nothing was sent yet, else a reset connection or stream. */
export function abandon(res: http.ServerResponse | http2.Http2ServerResponse): void {
  try {
    if ("stream" in res) resetStream(res.stream);
    else if (!res.headersSent) {
      res.writeHead(500).end();
    } else {
      res.destroy();
    }
  } catch {
    // Already gone.
  }
}

/** A stream's peer (or an HTTP/1.1 response's), for logs. */
export function remoteOfStream(stream: http2.ServerHttp2Stream | http.ServerResponse): string {
  return "session" in stream ? remoteOf(stream.session?.socket) : remoteOf(stream.socket ?? undefined);
}

/** Resets a stream whose listener threw, unless it is gone already. */
export function resetStream(stream: http2.ServerHttp2Stream): void {
  try {
    if (!stream.destroyed) stream.close(NGHTTP2_INTERNAL_ERROR);
  } catch {
    // Already gone.
  }
}
