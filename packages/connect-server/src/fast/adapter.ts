import { type ConnectNodeAdapterOptions, connectNodeAdapter } from "@connectrpc/connect-node";
import { createGrpcUnaryFastPath } from "./grpc-unary.js";
import type { NodeHandlerWithFastPath } from "./http2-server.js";

/** Options of {@link fastConnectNodeAdapter}: connectNodeAdapter's, plus `fastPath`. */
export interface FastConnectNodeAdapterOptions extends ConnectNodeAdapterOptions {
  /**
   * Serve unary gRPC calls over HTTP/2 on the fast path (see
   * `createGrpcUnaryFastPath`) when the handler is given to
   * `createHttp2Server`. false gives plain connectNodeAdapter. Default true.
   */
  fastPath?: boolean;
}

/**
 * connectNodeAdapter, with a unary gRPC fast path attached for
 * `createHttp2Server` to use. The returned function IS connect-node's
 * handler (for HTTP/1.1 servers, and for every call the fast path
 * declines); `routes` runs once, and both paths serve the same
 * implementation objects.
 */
export function fastConnectNodeAdapter(options: FastConnectNodeAdapterOptions): NodeHandlerWithFastPath {
  const { fastPath: enabled = true, ...adapterOptions } = options;
  if (!enabled) return connectNodeAdapter(adapterOptions);
  const fastPath = createGrpcUnaryFastPath(adapterOptions);
  const handler = connectNodeAdapter({ ...adapterOptions, routes: fastPath.routes });
  return Object.assign(handler, { grpcUnaryFastPath: fastPath });
}
