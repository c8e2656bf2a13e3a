import type * as http from "node:http";
import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { createGrpcUnaryFastPath } from "./grpc-unary.js";
import type { NodeHandlerFn, NodeHandlerWithFastPath } from "./http2-server.js";
import { type UnaryTrailerHook, withTrailerHook } from "./trailer-hook.js";

/** Options of {@link fastConnectNodeAdapter}: connectNodeAdapter's, plus `fastPath`. */
export interface FastConnectNodeAdapterOptions extends ConnectNodeAdapterOptions {
  /**
   * Serve unary calls on the fast path (see `createGrpcUnaryFastPath`):
   * gRPC and Connect unary over HTTP/2 when the handler is given to
   * `createHttp2Server`, and Connect unary over HTTP/1.1 when it is given
   * to `http.createServer` (or `http2.createSecureServer` with
   * `allowHTTP1`). false gives plain connectNodeAdapter. Default true.
   */
  fastPath?: boolean;
  /**
   * Sees every call and adds a trailer to unary responses (e.g. an ORCA
   * load report), outside `interceptors`: as an interceptor for
   * connect-node, natively on the fast path. Default: none.
   */
  trailerHook?: UnaryTrailerHook;
}

/**
 * connectNodeAdapter, with a unary fast path: attached for
 * `createHttp2Server` to use on HTTP/2 streams, and tried first by the
 * returned handler itself for HTTP/1.1 requests (Connect unary: POST with
 * application/proto or application/json, GET of NO_SIDE_EFFECTS methods).
 * Every call the fast path declines goes to connect-node's handler;
 * `routes` runs once, and both paths serve the same implementation objects.
 */
export function fastConnectNodeAdapter(options: FastConnectNodeAdapterOptions): NodeHandlerWithFastPath {
  const { fastPath: enabled = true, trailerHook, ...adapterOptions } = options;
  const interceptors = withTrailerHook(adapterOptions.interceptors, trailerHook);
  const nodeOptions = interceptors ? { ...adapterOptions, interceptors } : adapterOptions;
  if (!enabled) return connectNodeAdapter(nodeOptions);
  const fastPath = createGrpcUnaryFastPath({ ...adapterOptions, ...(trailerHook ? { trailerHook } : {}) });
  const nodeHandler = connectNodeAdapter({ ...nodeOptions, routes: fastPath.routes });
  // An HTTP/2 compat request reaching this handler was declined by createHttp2Server's
  // fast path already (or the server was made without it): only HTTP/1.1 is tried here.
  const handler: NodeHandlerFn = (req, res) => {
    if (
      req.httpVersionMajor === 1 &&
      fastPath.handleHttp1(req as http.IncomingMessage, res as http.ServerResponse)
    ) {
      return;
    }
    nodeHandler(req, res);
  };
  return Object.assign(handler, { grpcUnaryFastPath: fastPath });
}
