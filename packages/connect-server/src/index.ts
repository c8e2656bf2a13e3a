/**
 * A production Connect server for Node in one call. `startConnectServer`
 * serves the routes you give it over gRPC, gRPC-Web and Connect on one port
 * (h2c and HTTP/1.1, told apart by the connection preface, or TLS with
 * ALPN and optional client certificates), adds
 * grpc.health.v1 and server reflection, drains gracefully, and applies a
 * connection policy that keeps one bad client from hurting the others.
 *
 * @packageDocumentation
 */
export { type Clock, systemClock, type TimerHandle } from "./clock.js";
export { type ConnectHandlerOptions, createConnectHandler, type NodeHandler } from "./connect-handler.js";
export {
  type Connection,
  type ConnectionLimits,
  type ConnectionOwner,
  ConnectionTable,
  queuedWriteBytes,
} from "./connection-table.js";
export { type DrainParts, type DrainSettings, drainServer } from "./drain.js";
export {
  createGrpcUnaryFastPath,
  createHttp2Server,
  FAST_PATH_CHANNEL,
  type FastPathDecision,
  type GrpcUnaryFastPath,
  type GrpcUnaryFastPathOptions,
  type GrpcUnaryFastPathStats,
  LazyHandlerContext,
  type StreamErrorHandler,
  serveWithFastPath,
  trailerHookInterceptor,
  type UnaryTrailerHook,
} from "./fast/index.js";
export {
  type ConnectServerFlags,
  type ConnectServerSettingsFromFlags,
  connectServerFlags,
  settingsFromFlags,
} from "./flags.js";
export { percentEncodeGrpcMessage } from "./grpc-message.js";
export { createHealthService, HealthRegistry } from "./health.js";
export { Http1Connections, type Http1Timeouts } from "./http1-connections.js";
export { type Http2ConnectionPolicy, type StreamsRequests, TrackedSession } from "./http2-connection.js";
export { Http2Sessions, type Http2SessionsOptions } from "./http2-sessions.js";
export {
  type JsonCompression,
  type JsonFraming,
  type JsonLimits,
  jsonCompression,
  jsonFraming,
  limitJsonBody,
} from "./json-limits.js";
export { DualProtocolListener, type DualProtocolListenerOptions } from "./listener.js";
export { createJsonLogger, type LogFields, type Logger, type LogLevel } from "./log.js";
export { CONNECT_SERVER_DEFAULTS, type ConnectServerOptions, type ConnectServerSettings } from "./options.js";
export {
  ORCA_REQUEST_HEADER,
  ORCA_TRAILER,
  type OrcaMode,
  OrcaReporter,
  type OrcaReporterOptions,
} from "./orca.js";
export { createReflectionService, ReflectionIndex, reflectionServices } from "./reflection.js";
export { HeldRequestBytes } from "./request-bytes.js";
export { type ConnectServer, startConnectServer } from "./server.js";
export { type Framing, framingOf, MessageCounter, responseCode } from "./telemetry/framing.js";
export {
  type ServerCall,
  ServerTelemetry,
  type ServerTelemetryOptions,
} from "./telemetry/server-telemetry.js";
export { clampTimeouts, MAX_TIMEOUT_MS } from "./timeouts.js";
export {
  ALPN_PROTOCOLS,
  type ClientAuth,
  type ConnectServerTls,
  peerCertificateKey,
  peerCertificateOf,
  tlsServerOptions,
} from "./tls.js";
export { createUnknownMethodFallback } from "./unknown-method.js";
