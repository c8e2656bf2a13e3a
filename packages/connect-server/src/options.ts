import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ContextValues } from "@connectrpc/connect";
import type { Clock } from "./clock.js";
import type { NodeHandler } from "./connect-handler.js";
import type { Logger } from "./log.js";
import type { OrcaMode } from "./orca.js";
import type { ServerTelemetry } from "./telemetry/server-telemetry.js";
import type { ConnectServerTls } from "./tls.js";

/**
 * Every default of the server, in one place: `startConnectServer` and the
 * command-line flags (`CONNECT_SERVER_FLAGS`, and so `--help`) read them here.
 */
export const CONNECT_SERVER_DEFAULTS = {
  host: "0.0.0.0",
  port: 8080,
  readMaxBytes: 4 * 1024 * 1024,
  jsonReadMaxBytes: 1024 * 1024,
  jsonMaxDepth: 100,
  drainTimeoutMs: 10_000,
  shutdownDelayMs: 0,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 10_000,
  detectTimeoutMs: 10_000,
  http1HeadersTimeoutMs: 10_000,
  http1RequestTimeoutMs: 60_000,
  http1KeepaliveTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  keepaliveMinTimeMs: 300_000,
  keepalivePermitWithoutCalls: false,
  maxConcurrentStreams: 250,
  maxConnections: 10_000,
  maxConnectionsPerClient: 0,
  maxConnectionBufferBytes: 32 * 1024 * 1024,
  maxBufferBytes: 256 * 1024 * 1024,
  requestIdleTimeoutMs: 30_000,
  fastPath: true,
  orca: "off" as OrcaMode,
  orcaIntervalMs: 1000,
} as const;

/** The tunables of a server: where it listens, its limits and timeouts. Defaults in {@link CONNECT_SERVER_DEFAULTS}. */
export interface ConnectServerSettings {
  /** Address to listen on. Default "0.0.0.0". */
  host?: string;
  /** Port to listen on; 0 picks a free port. Default 8080. */
  port?: number;
  /** Largest request message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 4 MiB. */
  readMaxBytes?: number;
  /**
   * Largest JSON request (Connect JSON, or a +json codec message), in bytes;
   * larger ones fail with RESOURCE_EXHAUSTED before they are parsed. Default 1 MiB.
   */
  jsonReadMaxBytes?: number;
  /** Deepest nesting of a JSON request; deeper ones fail with INVALID_ARGUMENT unparsed. Default 100. */
  jsonMaxDepth?: number;
  /**
   * After a drain starts (and `shutdownDelayMs` has passed), how long
   * in-flight calls may run. At the deadline their handlers' signals abort
   * with UNAVAILABLE, and calls still open end with UNAVAILABLE, so clients
   * retry them elsewhere. Default 10000.
   */
  drainTimeoutMs?: number;
  /**
   * After a drain starts, how long the server keeps serving (with health
   * NOT_SERVING) before it stops accepting and sends GOAWAY, so that load
   * balancers and DNS see the change first. Default 0.
   */
  shutdownDelayMs?: number;
  /**
   * Close each HTTP/2 connection (GOAWAY) after it has lived this long, ±10 %
   * jitter, so that clients reconnect and re-resolve DNS: the fix for
   * grpc-go/grpc-js clients that never re-resolve otherwise (gRFC A9).
   * 0 disables. Default 0.
   */
  maxConnectionAgeMs?: number;
  /** After max connection age, how long calls may finish before the connection is cut. Default 10000. */
  maxConnectionAgeGraceMs?: number;
  /**
   * How long a new connection may take to show whether it speaks HTTP/2 or
   * HTTP/1.1 (its first 24 bytes at most), from accept; with `tls`, to
   * finish its TLS handshake (ALPN tells the protocol). Default 10000.
   */
  detectTimeoutMs?: number;
  /** HTTP/1.1: time to receive a request's headers (Node's headersTimeout). Default 10000. */
  http1HeadersTimeoutMs?: number;
  /** HTTP/1.1: time to receive a whole request (Node's requestTimeout). Default 60000. */
  http1RequestTimeoutMs?: number;
  /** HTTP/1.1: how long an idle keep-alive connection stays open. Default 5000. */
  http1KeepaliveTimeoutMs?: number;
  /** HTTP/2: GOAWAY a connection with no call for this long (MaxConnectionIdle). 0 disables. Default 300000. */
  idleTimeoutMs?: number;
  /** HTTP/2: PING each connection this often; 0 disables. Default 60000. */
  keepaliveTimeMs?: number;
  /** HTTP/2: a PING unanswered this long cuts the connection. Default 20000. */
  keepaliveTimeoutMs?: number;
  /**
   * HTTP/2 ping enforcement: a client pinging more often than this (with
   * nothing sent in between) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
   * on its third strike, as from grpc-go. Default 300000 (grpc-go's).
   */
  keepaliveMinTimeMs?: number;
  /** HTTP/2 ping enforcement: allow pings on a connection with no call. Default false. */
  keepalivePermitWithoutCalls?: boolean;
  /** HTTP/2: most calls open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). Default 250. */
  maxConcurrentStreams?: number;
  /**
   * Most open connections. At the cap a new connection makes room: the
   * oldest idle connection (no call open) of the client address holding the
   * most connections is closed. Only when every connection has a call open
   * is the newcomer refused. So a client hoarding connections cannot keep
   * health probes or other clients out. 0 = no cap. Default 10000.
   */
  maxConnections?: number;
  /**
   * Most open connections from one client address, with the same
   * room-making rule (its own oldest idle connection closes first). Off by
   * default because many clients can share one address (a NAT, a node's
   * kubelet, an ingress). 0 = no cap. Default 0.
   */
  maxConnectionsPerClient?: number;
  /**
   * Most bytes one connection may make the server hold: request bytes not
   * yet handed to a handler (a unary body until it ends, a streamed
   * message until it is complete) plus response bytes its peer has not
   * taken (each queued write also counted at the ~1 KiB of heap it costs).
   * Past it the connection is cut and a warning names the limit. 0 = no
   * limit. Default 32 MiB.
   */
  maxConnectionBufferBytes?: number;
  /**
   * The same, over all connections of the process: past it, the connection
   * holding the most is cut. 0 = no limit. Default 256 MiB.
   */
  maxBufferBytes?: number;
  /**
   * A request body that stalls this long is ended with DEADLINE_EXCEEDED
   * (gRPC) or a reset stream: a unary request that has not ended, or a
   * streaming one in the middle of a message. Streams idle between
   * messages are not cut. HTTP/2 only; on HTTP/1.1,
   * `http1RequestTimeoutMs` bounds the whole request. 0 = off. Default 30000.
   */
  requestIdleTimeoutMs?: number;
  /**
   * Serve unary calls on the fast path (src/fast/: binary gRPC over
   * HTTP/2, and the Connect protocol's POST with application/proto or
   * application/json and GET, over HTTP/2 and HTTP/1.1; the same answers
   * as connect-node at a fraction of the CPU); false serves every call
   * with connect-node.
   * Default true.
   */
  fastPath?: boolean;
  /**
   * ORCA per-call load reports (gRFC A51) in the `endpoint-load-metrics-bin`
   * trailer of unary responses, for client-side weighted_round_robin:
   * "always" (every response, what gRPC clients such as grpc-js expect),
   * "on-request" (calls with an `endpoint-load-metrics-format` header, as
   * @rngbalance/dns-pool's weighted_round_robin sends) or "off". Default "off":
   * it costs a timer and a trailer per call, and only load-aware clients use it.
   */
  orca?: OrcaMode;
  /** How often the ORCA report is sampled (CPU, event loop, rates), in ms. Default 1000. */
  orcaIntervalMs?: number;
  /**
   * Serve TLS on the port instead of cleartext: `key` and `cert` (or `pfx`),
   * any other `tls.SecureContextOptions`, and `clientAuth` for mutual TLS
   * ("request" or "require", with `ca` to verify client certificates
   * against). ALPN picks HTTP/2 ("h2") or HTTP/1.1, so gRPC, gRPC-Web and
   * Connect all work as over cleartext, with the same drain, connection
   * policy and fast path. Handlers find a verified client certificate under
   * `peerCertificateKey` in `context.values`. Default: cleartext (h2c and
   * HTTP/1.1).
   */
  tls?: ConnectServerTls;
}

/** Options of `startConnectServer`: the services, and the settings. */
export interface ConnectServerOptions extends ConnectServerSettings {
  /** Registers the services, as connect-node's `connectNodeAdapter` routes. */
  routes(router: ConnectRouter): void;
  /**
   * The services `routes` registers. Health answers SERVING for each (and
   * for "", the whole server) once listening, and reflection describes them.
   */
  services: readonly DescService[];
  /** Context values for each call's handler context, as connect-node's option. Default: none. */
  contextValues?: (req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues;
  /** Answers paths that no service serves. Default: UNIMPLEMENTED (gRPC) or 404 (Connect), naming the services. */
  fallback?: NodeHandler;
  /** Health status per service at start: SERVING unless listed here as not serving. Default: all serving. */
  notServing?: readonly string[];
  /** More fields for the "listening" log line (e.g. the instance's identity). Default: none. */
  listeningFields?: Record<string, unknown>;
  /**
   * Metrics and spans of every call (gRFC A66's `grpc.server.call.*`, a
   * SERVER span continuing the client's W3C trace context). `false` turns
   * them off. Default: the global OpenTelemetry providers, a no-op unless
   * the application installed an SDK before starting the server.
   */
  telemetry?: ServerTelemetry | false;
  /** Logger; default JSON lines on stdout. */
  logger?: Logger;
  /**
   * The clock of the server's own timing: the HTTP/2 connection policy
   * (idle timeout, keepalive, ping enforcement, request-idle timeout,
   * rapid-reset budget, max age, the cut), protocol detection, the
   * connection table's sweeps and the drain. Tests pass a `FakeClock`
   * (`@rngbalance/connect-server/testing`) to run these without waiting.
   * Node's HTTP/1.1 timeouts and call deadlines keep real time. Default:
   * the real clock (`Date.now()` and Node's timers).
   */
  clock?: Clock;
}
