import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { createGrpcUnaryFastPath } from "./grpc-unary.js";
import type { NodeHandlerWithFastPath } from "./http2-server.js";
import { type UnaryTrailerHook, withTrailerHook } from "./trailer-hook.js";

/** Options of {@link fastConnectNodeAdapter}: connectNodeAdapter's, plus `fastPath`. */
export interface FastConnectNodeAdapterOptions extends ConnectNodeAdapterOptions {
  /**
   * Serve unary gRPC calls over HTTP/2 on the fast path (see
   * `createGrpcUnaryFastPath`) when the handler is given to
   * `createHttp2Server`. false gives plain connectNodeAdapter. Default true.
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
 * connectNodeAdapter, with a unary gRPC fast path attached for
 * `createHttp2Server` to use. The returned function IS connect-node's
 * handler (for HTTP/1.1 servers, and for every call the fast path
 * declines); `routes` runs once, and both paths serve the same
 * implementation objects.
 */
export function fastConnectNodeAdapter(options: FastConnectNodeAdapterOptions): NodeHandlerWithFastPath {
  const { fastPath: enabled = true, trailerHook, ...adapterOptions } = options;
  const interceptors = withTrailerHook(adapterOptions.interceptors, trailerHook);
  const nodeOptions = interceptors ? { ...adapterOptions, interceptors } : adapterOptions;
  if (!enabled) return connectNodeAdapter(nodeOptions);
  const fastPath = createGrpcUnaryFastPath({ ...adapterOptions, ...(trailerHook ? { trailerHook } : {}) });
  const handler = connectNodeAdapter({ ...nodeOptions, routes: fastPath.routes });
  return Object.assign(handler, { grpcUnaryFastPath: fastPath });
}
