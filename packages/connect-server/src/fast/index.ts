/**
 * A unary fast path for connect-node servers on `node:http2`, for any
 * Connect service: binary-protobuf unary gRPC calls and the Connect
 * protocol's unary calls (proto, JSON, GET) are served straight on the
 * HTTP/2 stream with connect's own protocol functions, everything else by
 * connect-node. Nothing here knows about the Rng service (this folder is
 * meant to become a package of its own).
 *
 * ```ts
 * const handler = fastConnectNodeAdapter({ routes });  // connectNodeAdapter's options
 * const server = createHttp2Server({}, handler);       // http2.createServer's arguments
 * ```
 *
 * @packageDocumentation
 */
export { type FastConnectNodeAdapterOptions, fastConnectNodeAdapter } from "./adapter.js";
export { LazyHandlerContext } from "./call-context.js";
export {
  createGrpcUnaryFastPath,
  FAST_PATH_CHANNEL,
  type FastPathDecision,
  type GrpcUnaryFastPath,
  type GrpcUnaryFastPathOptions,
  type GrpcUnaryFastPathStats,
} from "./grpc-unary.js";
export {
  createHttp2Server,
  type NodeHandlerFn,
  type NodeHandlerWithFastPath,
  type StreamErrorHandler,
  serveWithFastPath,
} from "./http2-server.js";
export { trailerHookInterceptor, type UnaryTrailerHook } from "./trailer-hook.js";
