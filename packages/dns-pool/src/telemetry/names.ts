import { http2ErrorName } from "@rngbalance/grpc-names";
import { KEEPALIVE_TIMEOUT_CODE, LIVENESS_TIMEOUT_CODE } from "../core/errors.js";

/**
 * Instrument names, units and bucket boundaries: gRPC's (gRFC A66 per call
 * and attempt, A96 retries, A94 subchannels, A78 weighted_round_robin and
 * pick_first, A91 outlier detection) and the
 * pool's own under `rngbalance.pool.`. With OpenTelemetry's Prometheus
 * naming, `grpc.client.call.duration` (unit `s`) is scraped as
 * `grpc_client_call_duration_seconds_*`, counters get `_total`.
 */
export const METRIC = {
  attemptStarted: "grpc.client.attempt.started",
  attemptDuration: "grpc.client.attempt.duration",
  attemptSentSize: "grpc.client.attempt.sent_total_compressed_message_size",
  attemptRcvdSize: "grpc.client.attempt.rcvd_total_compressed_message_size",
  callDuration: "grpc.client.call.duration",
  callRetries: "grpc.client.call.retries",
  callTransparentRetries: "grpc.client.call.transparent_retries",
  callRetryDelay: "grpc.client.call.retry_delay",
  callHedges: "grpc.client.call.hedges",
  serverCallStarted: "grpc.server.call.started",
  serverCallDuration: "grpc.server.call.duration",
  serverSentSize: "grpc.server.call.sent_total_compressed_message_size",
  serverRcvdSize: "grpc.server.call.rcvd_total_compressed_message_size",
  connectionsSucceeded: "grpc.subchannel.connection_attempts_succeeded",
  connectionsFailed: "grpc.subchannel.connection_attempts_failed",
  disconnections: "grpc.subchannel.disconnections",
  openConnections: "grpc.subchannel.open_connections",
  ejectionsEnforced: "grpc.lb.outlier_detection.ejections_enforced",
  ejectionsUnenforced: "grpc.lb.outlier_detection.ejections_unenforced",
  wrrRrFallback: "grpc.lb.wrr.rr_fallback",
  wrrNotYetUsable: "grpc.lb.wrr.endpoint_weight_not_yet_usable",
  wrrStale: "grpc.lb.wrr.endpoint_weight_stale",
  wrrWeights: "grpc.lb.wrr.endpoint_weights",
  pickFirstDisconnections: "grpc.lb.pick_first.disconnections",
  pickFirstSucceeded: "grpc.lb.pick_first.connection_attempts_succeeded",
  pickFirstFailed: "grpc.lb.pick_first.connection_attempts_failed",
  resolutions: "rngbalance.pool.resolutions",
  endpoints: "rngbalance.pool.endpoints",
  picks: "rngbalance.pool.picks",
  queueWaiting: "rngbalance.pool.pick_queue.waiting",
  queueDuration: "rngbalance.pool.pick_queue.duration",
  panic: "rngbalance.pool.panic",
  panics: "rngbalance.pool.panics",
  localityAttempts: "rngbalance.pool.locality.attempts",
  localityLocalShare: "rngbalance.pool.locality.local_share",
} as const;

/** Attribute (label) keys. */
export const ATTR = {
  method: "grpc.method",
  target: "grpc.target",
  status: "grpc.status",
  disconnectError: "grpc.disconnect_error",
  /** gRFC A91: "success_rate" or "failure_percentage". */
  detectionMethod: "grpc.lb.outlier_detection.detection_method",
  /** gRFC A91: "enforcement_percentage" or "max_ejection_overflow". */
  unenforcedReason: "grpc.lb.outlier_detection.unenforced_reason",
  /** Pool: the endpoint's address, "10.1.0.12:8081" (opt-in: `telemetry.endpointLabel`). */
  endpoint: "rngbalance.endpoint",
  /** Pool: "ok" or "failed". */
  result: "rngbalance.result",
  /** Pool: why a resolution failed (see {@link resolutionFailureReason}). */
  reason: "rngbalance.reason",
  /** Pool: the balancer's view of an endpoint (IDLE, CONNECTING, READY, TRANSIENT_FAILURE). */
  state: "rngbalance.endpoint.state",
  /** Pool: what health checking says (SERVING, NOT_SERVING, PENDING, UNCHECKED). */
  health: "rngbalance.endpoint.health",
  /** Pool, zone-aware routing: "local" (the client's zone) or "other_zone". */
  locality: "rngbalance.locality",
} as const;

/** gRFC A66 latency buckets, in seconds. */
export const LATENCY_BUCKETS_S: readonly number[] = [
  0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01,
  0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65,
  0.8, 1, 2, 5, 10, 20, 50, 100,
];

/** gRFC A66 size buckets, in bytes. */
export const SIZE_BUCKETS_BY: readonly number[] = [
  0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824,
  4294967296,
];

/** gRFC A66 count buckets (retries per call). */
export const COUNT_BUCKETS: readonly number[] = [
  0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
];

/**
 * gRPC's canonical status names, indexed by code ("CANCELLED", not
 * connect's "Canceled"), and the name of a code (0 = OK; codes outside
 * gRPC's list are "UNKNOWN"): `@rngbalance/grpc-names`' table, the one the
 * server's telemetry uses too, under the names this package has always
 * exported.
 */
export { GRPC_STATUS_NAMES as STATUS_NAMES, grpcStatusName as statusName } from "@rngbalance/grpc-names";

/** "GOAWAY NO_ERROR", "GOAWAY ENHANCE_YOUR_CALM", ... (gRFC A94). */
export function goawayReason(errorCode: number): string {
  return `GOAWAY ${http2ErrorName(errorCode)}`;
}

/**
 * gRFC A94's `grpc.disconnect_error` for a connection that closed with
 * `err` (by Node's error codes along the cause chain, never message text).
 */
export function disconnectReason(err: Error | undefined): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    if (code === "ECONNRESET") return "connection reset";
    if (code === "ETIMEDOUT" || code === KEEPALIVE_TIMEOUT_CODE || code === LIVENESS_TIMEOUT_CODE) {
      return "connection timed out";
    }
    if (code === "ECONNABORTED") return "connection aborted";
    if (/^E[A-Z]+$/.test(code)) return "socket error";
  }
  return "unknown";
}

/**
 * Why a resolution failed, as a bounded label: "not_found" (NXDOMAIN),
 * "no_data" (empty answer), "server_failure" (SERVFAIL), "timeout",
 * "refused", "cancelled" or "other", from the DNS error code the resolver
 * keeps as the error's cause.
 */
export function resolutionFailureReason(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; depth++, e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "string") continue;
    const reason = DNS_REASONS[code];
    if (reason) return reason;
  }
  return "other";
}

const DNS_REASONS: Readonly<Record<string, string>> = {
  ENOTFOUND: "not_found",
  ENODATA: "no_data",
  ESERVFAIL: "server_failure",
  ETIMEOUT: "timeout",
  ECONNREFUSED: "refused",
  ECANCELLED: "cancelled",
};

/** gRFC A66's bucket boundaries: latency (s), size (bytes), count. */
export const TELEMETRY_BUCKETS = {
  latency: LATENCY_BUCKETS_S,
  size: SIZE_BUCKETS_BY,
  count: COUNT_BUCKETS,
} as const;
