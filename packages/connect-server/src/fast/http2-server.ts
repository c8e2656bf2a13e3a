import * as http2 from "node:http2";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { resetStream } from "../escaped.js";
import type { GrpcUnaryFastPath } from "./grpc-unary.js";

/** A request handler as connectNodeAdapter returns it (http and http2 compatible). */
export type NodeHandlerFn = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/** A connect-node handler that also carries a unary gRPC fast path (see `fastConnectNodeAdapter`). */
export type NodeHandlerWithFastPath = NodeHandlerFn & {
  /** The fast path, or undefined when it is turned off. */
  readonly grpcUnaryFastPath?: GrpcUnaryFastPath;
};

type AnyHttp2Server = http2.Http2Server | http2.Http2SecureServer;
type Options = http2.ServerOptions | http2.SecureServerOptions;

/**
 * Creates an h2c server, as `http2.createServer(options, handler)`, that
 * serves unary gRPC calls on the handler's fast path and everything else
 * with the handler itself. A handler without a fast path (e.g. plain
 * connectNodeAdapter, or `fastPath: false`) gets exactly
 * `http2.createServer(options, handler)`.
 */
export function createHttp2Server(
  options: http2.ServerOptions,
  handler: NodeHandlerWithFastPath,
  onError?: StreamErrorHandler,
): http2.Http2Server {
  const fast = handler.grpcUnaryFastPath;
  if (fast === undefined) return http2.createServer(options, handler);
  const server = http2.createServer(options);
  serveWithFastPath(server, options, fast, handler, onError);
  return server;
}

/**
 * Told when serving a stream threw (a bug that one request triggered);
 * the stream is reset with INTERNAL_ERROR afterwards, and other calls go on.
 * Without one the error is thrown on, as Node would.
 */
export type StreamErrorHandler = (
  err: unknown,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
) => void;

/**
 * Wires a fast path into an Http2Server (or Http2SecureServer) created
 * WITHOUT a request handler: its 'stream' events go to
 * `fastPath.handleStream` first, and each stream it declines is turned into
 * `Http2ServerRequest` / `Http2ServerResponse` exactly as Node's own
 * `onServerStream` (node 20, lib/internal/http2/compat.js) does, CONNECT,
 * `Expect`, 'checkContinue' and 'checkExpectation' included, and emitted
 * as 'request' to `handler` and any other 'request' listener.
 *
 * Why not keep Node's wiring: an Http2Server with a 'request' listener
 * converts EVERY stream into compat objects before any listener could keep
 * it (Node adds its `onServerStream` 'stream' listener when the first
 * 'request' listener is added). So this takes 'stream' itself and removes
 * the listener Node adds for `handler`; later 'request' listeners are
 * harmless, Node wires its compat layer only once. Calls served fast emit
 * no 'request' event.
 *
 * `options` are the server's options, for custom `Http2ServerRequest` /
 * `Http2ServerResponse` classes as Node honours them.
 */
export function serveWithFastPath(
  server: AnyHttp2Server,
  options: Options,
  fastPath: GrpcUnaryFastPath,
  handler: NodeHandlerFn,
  onError?: StreamErrorHandler,
): void {
  if (server.listenerCount("request") > 0) {
    throw new Error("serveWithFastPath: create the server without a request handler");
  }
  const nodeStreamListeners = new Set(server.listeners("stream"));
  server.on("request", handler);
  // Drop what Node added for the 'request' listener: its compat 'stream' listener.
  for (const listener of server.listeners("stream")) {
    if (!nodeStreamListeners.has(listener)) server.off("stream", listener as never);
  }
  const Request = options.Http2ServerRequest ?? http2.Http2ServerRequest;
  const Response = options.Http2ServerResponse ?? http2.Http2ServerResponse;
  const onStream = (
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    flags: number,
    rawHeaders: string[],
  ) => {
    if (onError === undefined) {
      if (fastPath.handleStream(stream, headers, flags, rawHeaders)) return;
      onServerStream(server, Request, Response, stream, headers, rawHeaders);
      return;
    }
    try {
      if (fastPath.handleStream(stream, headers, flags, rawHeaders)) return;
      onServerStream(server, Request, Response, stream, headers, rawHeaders, (err) => {
        onError(err, stream, headers);
        resetStream(stream);
      });
    } catch (err) {
      onError(err, stream, headers);
      resetStream(stream);
    }
  };
  (server as http2.Http2Server).on("stream", onStream as never);
}

/**
 * Node 20's `onServerStream` (lib/internal/http2/compat.js), line for line,
 * except that the request is handed on a turn later.
 *
 * Why later: the general path costs ~80 KiB of garbage per call
 * (connect-es's handler machinery; the fast path ~11 KiB), and Node emits
 * 'stream' while nghttp2 is still reading the input that opened it. A
 * client that resets each stream in the same packet (rapid reset) would
 * make every one of them a call; a turn later such a stream is destroyed
 * already and costs ~8 KiB. The compat objects are made at once all the
 * same: they must see every event of the stream (a request with an empty
 * body can end before the next turn). `onError` is told what the handler
 * threw then; without it the error is thrown on, as Node would.
 */
function onServerStream(
  server: AnyHttp2Server,
  Request: typeof http2.Http2ServerRequest,
  Response: typeof http2.Http2ServerResponse,
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  onError?: (err: unknown) => void,
): void {
  const request = new Request(stream, headers, undefined as never, rawHeaders);
  const response = new Response(stream);
  setImmediate(() => {
    if (stream.destroyed) return;
    if (onError === undefined) {
      dispatch(server, request, response, headers);
      return;
    }
    try {
      dispatch(server, request, response, headers);
    } catch (err) {
      onError(err);
    }
  });
}

/** The events Node's compat layer emits for a new request (CONNECT, Expect, then 'request'). */
function dispatch(
  server: AnyHttp2Server,
  request: http2.Http2ServerRequest,
  response: http2.Http2ServerResponse,
  headers: http2.IncomingHttpHeaders,
): void {
  if (headers[":method"] === "CONNECT") {
    if (!server.emit("connect", request, response)) {
      response.statusCode = 405;
      response.end();
    }
    return;
  }
  if (headers.expect !== undefined) {
    if (headers.expect === "100-continue") {
      if (server.listenerCount("checkContinue")) {
        server.emit("checkContinue", request, response);
      } else {
        response.writeContinue();
        server.emit("request", request, response);
      }
    } else if (server.listenerCount("checkExpectation")) {
      server.emit("checkExpectation", request, response);
    } else {
      response.statusCode = 417;
      response.end();
    }
    return;
  }
  server.emit("request", request, response);
}
