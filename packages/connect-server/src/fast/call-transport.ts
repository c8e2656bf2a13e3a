import type * as http from "node:http";
import * as http2 from "node:http2";
import { errorFromResetCode } from "./errors.js";

/**
 * What a call's signal and handler context need from whatever carries the
 * call: an HTTP/2 stream ({@link Http2CallTransport}) or an HTTP/1.1
 * request and response (connect-unary-http1.ts). Everything else a call
 * does (read, parse, run, encode) does not depend on the transport.
 */
export interface CallTransport {
  /**
   * The transport is gone (stream closed, connection closed): the reason a
   * signal made now aborts with, wrapped; undefined while it is open.
   */
  closedReason(): { readonly reason: unknown } | undefined;
  /** Calls `listener` with the abort reason once the transport closes (at most one listener per call). */
  onceClosed(listener: (reason: unknown) => void): void;
  /** Whether the connection is TLS: `context.url`'s scheme. */
  encrypted(): boolean;
  /** The request path with its query: `context.url`'s path. */
  path(): string;
  /** The request object connect-node gives `contextValues`. */
  nodeRequest(): http.IncomingMessage | http2.Http2ServerRequest;
}

/**
 * A call on an HTTP/2 stream. Its signal aborts when the stream closes, with
 * the reason connect-node gives the stream's reset code; `contextValues`
 * gets an `Http2ServerRequest` built for the stream.
 */
export class Http2CallTransport implements CallTransport {
  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly rawHeaders: string[],
  ) {}

  closedReason(): { readonly reason: unknown } | undefined {
    const stream = this.stream;
    if (!stream.closed && !stream.destroyed) return undefined;
    return { reason: errorFromResetCode(stream.rstCode) };
  }

  onceClosed(listener: (reason: unknown) => void): void {
    const stream = this.stream;
    stream.once("close", () => listener(errorFromResetCode(stream.rstCode)));
  }

  encrypted(): boolean {
    return this.stream.session?.encrypted === true;
  }

  path(): string {
    return this.headers[":path"] ?? "";
  }

  nodeRequest(): http2.Http2ServerRequest {
    return new http2.Http2ServerRequest(this.stream, this.headers, {}, this.rawHeaders);
  }
}
