import type { PolicyName } from "./balancer/builtin.js";
import type { LocalityOptions } from "./balancer/locality.js";
import type { PeakEwmaOptions } from "./balancer/peak-ewma.js";
import type { PickFirstOptions } from "./balancer/pick-first-order.js";
import type { SlowStartOptions } from "./balancer/slow-start.js";
import type { WeightedRoundRobinOptions } from "./balancer/weighted-round-robin.js";
import type { HedgingPolicy } from "./call/hedging.js";
import type { RetryPolicy } from "./call/retry.js";
import type { RetryBudgetOptions, RetryThrottling } from "./call/retry-limits.js";
import type {
  EndpointTransportOptions,
  PoolHttp2Options,
  PoolProtocol,
  PoolTlsOptions,
} from "./connection/endpoint-options.js";
import type { KeepaliveOptions } from "./connection/http2-connection.js";
import type { LivenessOptions } from "./connection/liveness.js";
import type { BackoffOptions } from "./core/backoff.js";
import type { HealthCheckOptions } from "./health/health-check.js";
import type { OutlierDetectionOptions } from "./health/outlier-detection.js";
import type { SubsetOptions } from "./subset/subset-resolver.js";
import type { PoolTelemetryOptions } from "./telemetry/pool-telemetry-options.js";

export type { LocalityOptions } from "./balancer/locality.js";
export type { PeakEwmaOptions } from "./balancer/peak-ewma.js";
export type { SlowStartOptions } from "./balancer/slow-start.js";
export type { WeightedRoundRobinOptions } from "./balancer/weighted-round-robin.js";
export type { HedgingPolicy } from "./call/hedging.js";
export type { RetryPolicy } from "./call/retry.js";
export type { RetryBudgetOptions, RetryThrottling } from "./call/retry-limits.js";
// The option types of the parts, re-exported so that options.ts lists every option.
export type {
  EndpointTransportOptions,
  PoolHttp2Options,
  PoolProtocol,
  PoolTlsOptions,
} from "./connection/endpoint-options.js";
export type { LivenessOptions } from "./connection/liveness.js";
export type { HealthCheckOptions } from "./health/health-check.js";
export type { OutlierDetectionOptions } from "./health/outlier-detection.js";
export type { SubsetOptions } from "./subset/subset-resolver.js";
export type { PoolTelemetryOptions } from "./telemetry/pool-telemetry-options.js";

/** Options of {@link createPoolTransport}. Only `target` is required. */
export interface PoolTransportOptions extends EndpointTransportOptions {
  /**
   * What to call, in gRPC's naming syntax:
   * - `dns:///rng-headless:8081`: the system resolver (with /etc/resolv.conf search domains);
   * - `dns://10.96.0.10:53/rng-headless.default.svc.cluster.local:8081`: ask that DNS server;
   * - `ipv4:10.0.0.1:8081,10.0.0.2:8081`, `ipv6:[fd00::1]:8081`: fixed addresses;
   * - `unix:/run/rng.sock`, `unix-abstract:rng`: a Unix domain socket;
   * - `rng-headless:8081`: passthrough, one connection, the OS picks the address (as grpc-go without `dns:///`);
   * - `kubernetes:///rng.default:8081`: the Service's EndpointSlices;
   * - `scheme:...`: a scheme added with `registerResolver()`.
   *
   * Required; no default.
   */
  target: string;
  /** Wire protocol. Default "grpc". */
  protocol?: PoolProtocol;
  /**
   * Balancing policy: "round_robin", "pick_first", "least_request",
   * "peak_ewma" (latency-aware, see `peakEwma`), "weighted_round_robin"
   * (weights from the servers' ORCA load reports, see `weightedRoundRobin`),
   * "ring_hash" (consistent hashing on a per-call key, optionally with
   * bounded loads; settings in `policyConfig`, see docs/ring-hash.md),
   * or the name of a policy added with `registerPolicy()`. Which to use
   * when: docs/balancing.md. Default "round_robin".
   */
  policy?: PolicyName | (string & {});
  /**
   * Slow start (as Envoy's): an endpoint that joins a pool already serving
   * (a new pod, or one back from a failure) gets a share that ramps up over
   * `windowMs`, weight = max(minWeightPercent / 100, (t / windowMs) ^ (1 /
   * aggression)). The endpoints of the first resolution are not ramped on
   * their first connection. Applies to round_robin, least_request and
   * peak_ewma. Default: off (`aggression` 1 and `minWeightPercent` 10 once
   * on; `windowMs` is required), as in Envoy: a ramp only helps servers
   * that are slow when cold, and costs the others a share while it lasts.
   */
  slowStart?: false | SlowStartOptions;
  /**
   * peak_ewma's settings. Defaults (Linkerd's): `defaultRttMs` 30,
   * `decayMs` 10000, `failureRttMs` = `defaultRttMs`.
   */
  peakEwma?: PeakEwmaOptions;
  /**
   * weighted_round_robin's settings (gRFC A58). Defaults: `blackoutPeriodMs`
   * 10000, `weightExpirationPeriodMs` 180000, `weightUpdatePeriodMs` 1000,
   * `errorUtilizationPenalty` 1.
   */
  weightedRoundRobin?: WeightedRoundRobinOptions;
  /**
   * Settings for a policy added with `registerPolicy()`, handed to its
   * factory as `context.options.config`, unchecked; for "ring_hash", its
   * `RingHashConfig` (checked when the pool is created). Default: undefined.
   */
  policyConfig?: unknown;
  /**
   * Port for a target that names none. Default: none, so such a target is
   * rejected; grpc-go silently dials 443 instead.
   */
  defaultPort?: number;
  /**
   * `:authority` (and Host) of every call, and the TLS server name. Default:
   * the target's host:port, never a pod IP.
   */
  authority?: string;
  /**
   * TLS: `true` for the system CAs, or options with a custom CA and client
   * certificate (mTLS). SNI is the authority's host name. Default: cleartext
   * HTTP/2 (h2c).
   */
  tls?: boolean | PoolTlsOptions;
  /**
   * "lazy": connect when the first call comes; "eager": connect to every
   * resolved address at once (and to new ones as they appear). Either way,
   * once active the pool keeps connections to new addresses open. Default "lazy".
   */
  connect?: "lazy" | "eager";
  /**
   * Re-resolve no more often than this, whatever the TTL says or however
   * many connections fail. Default 1000.
   */
  minResolveIntervalMs?: number;
  /** Re-resolve at least this often, whatever the TTL says. Default 30000. */
  maxResolveIntervalMs?: number;
  /** Timeout of one DNS query (two tries are made). Default 5000. */
  dnsTimeoutMs?: number;
  /** Resolve `dns:` names through SRV records (ports from the records). Default false. */
  srv?: boolean;
  /**
   * For `kubernetes:` targets: a `KubeConfig` of @kubernetes/client-node (an
   * optional peer dependency). Default: `loadFromDefault()`, which inside a
   * pod uses its service account (RBAC: get, list, watch on
   * discovery.k8s.io endpointslices).
   */
  kubeConfig?: object;
  /** How long one connection attempt may take, TCP + TLS + HTTP/2 settings. Default 20000. */
  connectTimeoutMs?: number;
  /** HTTP/2 keepalive pings. Default: off (`timeMs` undefined), `timeoutMs` 20000, `permitWithoutCalls` false. */
  keepalive?: Partial<KeepaliveOptions>;
  /**
   * Silent-connection detection (see the README's Liveness section): a
   * connection whose calls have had nothing back for `pingAfterMs` gets one
   * PING; unanswered within `pingTimeoutMs`, the connection is dead (its
   * calls fail with UNAVAILABLE, it reconnects), and from `suspectAfterMs`
   * of silence the endpoint gets no new picks until its server answers.
   * At most two such PINGs per period in which the server sends nothing,
   * so servers' ping enforcement never trips. Default: on, `pingAfterMs`
   * adaptive (8 × p99 of recent response times, within 250-750 ms),
   * `pingTimeoutMs` 1000, `suspectAfterMs` adaptive (3 × p99, within
   * 20 ms-`pingAfterMs`); `false` turns it off.
   */
  liveness?: LivenessOptions | false;
  /** Backoff between reconnect attempts. Default 1000 ms initial, x1.6, ±20 % jitter, at most 30000 ms. */
  reconnectBackoff?: Partial<BackoffOptions>;
  /**
   * When no endpoint is READY, wait for one until the call's deadline, even
   * if every endpoint is failing (gRPC's wait-for-ready). With false, a call
   * waits only while endpoints are connecting, and fails at once with
   * UNAVAILABLE when all are in TRANSIENT_FAILURE. Default false.
   */
  waitForReady?: boolean;
  /** Timeout for calls that set none, in milliseconds. Default: none. */
  defaultTimeoutMs?: number;
  /**
   * Run unary gRPC and Connect calls on a lean path written directly on
   * node:http2 (same results as connect-node's transport, checked by
   * differential tests; less CPU per call). gRPC: binary only, without
   * interceptors or compression options. Connect: binary or JSON, with any
   * compression options, without interceptors. Streaming calls, gRPC-Web
   * and everything else use connect-node. Default true.
   */
  fastPath?: boolean;
  /**
   * How many times a unary call that never reached a server (no connection,
   * stream refused, above a GOAWAY's last stream id) is retried on another
   * endpoint, within its deadline. Such retries are always safe. Default 3.
   */
  transparentRetries?: number;
  /**
   * Opt-in retries of unary calls that did reach a server, as gRFC A6: only
   * for the listed codes, with exponential backoff, within the deadline.
   * Only for idempotent methods. Default: none.
   */
  retryPolicy?: RetryPolicy;
  /**
   * Active health checking per endpoint with `grpc.health.v1.Health/Watch`
   * (gRFC A17): an endpoint that reports NOT_SERVING leaves the picker at once
   * and returns on SERVING; a server answering UNIMPLEMENTED is not checked.
   * The watches always speak binary gRPC and do not run `interceptors` (as in
   * grpc-go and grpc-js); give them their own with `healthCheck.interceptors`
   * (e.g. for credentials a server's health service requires). `false` turns
   * checking off. Default `{ service: "" }` (the whole server, no interceptors).
   */
  healthCheck?: false | HealthCheckOptions;
  /**
   * Connect to at most `size` of the resolved endpoints, chosen
   * deterministically per client so that load stays even across servers and
   * a change of one server changes about one endpoint per client (see
   * docs/subsetting.md). Default: no subsetting (every endpoint).
   */
  subset?: SubsetOptions;
  /**
   * Outlier ejection (gRFC A50): endpoints whose calls fail much more than
   * the others' are taken out of the picker for a while. `false` turns it
   * off. Defaults: see {@link OutlierDetectionOptions}.
   */
  outlierDetection?: false | Partial<OutlierDetectionOptions>;
  /**
   * OpenTelemetry metrics (gRPC's names: gRFC A66, A94, A96, A91, and the
   * pool's own `rngbalance.pool.*`) and traces (a span per call and per
   * attempt, W3C trace context in the request headers), through
   * `@opentelemetry/api` only: a no-op, at no cost per call, unless the
   * application installs an SDK. `false` turns both off. Default `{}`:
   * the global MeterProvider and TracerProvider, no endpoint label.
   */
  telemetry?: false | PoolTelemetryOptions;
  /** Extra `http2.connect()` options (settings, maxSessionMemory, ...). Default: none. */
  http2Options?: PoolHttp2Options;
  /**
   * Connection scaling (gRFC A105): at most this many HTTP/2 connections
   * per endpoint. When every connection of an endpoint carries as many
   * streams as its server's SETTINGS_MAX_CONCURRENT_STREAMS allows, a call
   * opens another connection (one attempt at a time, sharing the
   * reconnect backoff) instead of queueing inside the full one; it waits
   * only while that connection is set up. Streams go to the oldest
   * connection with room. 1 (gRPC's default): one connection, calls beyond
   * the server's limit wait in it for a stream to end. A whole number from
   * 1 to 100 (gRPC caps it at 10 unless told otherwise). Default 1, or
   * `minConnectionsPerEndpoint` when that is larger.
   */
  maxConnectionsPerEndpoint?: number;
  /**
   * Open this many connections per endpoint as soon as it connects, keep
   * them open, and spread streams over them (fewest open streams first):
   * for one address that fronts several servers (a Kubernetes ClusterIP,
   * an L4 load balancer, a VIP), where each TCP connection may land on
   * another server. A whole number from 1 to 100, at most
   * `maxConnectionsPerEndpoint`. Default 1.
   */
  minConnectionsPerEndpoint?: number;
  /**
   * With `maxConnectionsPerEndpoint` above 1: a connection beyond
   * `minConnectionsPerEndpoint` that carried no stream for this long is
   * closed (gracefully), so a burst leaves no connections behind. Default
   * 30000.
   */
  extraConnectionIdleMs?: number;
  /**
   * pick_first's settings: `shuffleAddressList` (gRFC A62: shuffle the
   * addresses on each resolution; default false) and
   * `connectionAttemptDelayMs` (gRFC A61 Happy Eyeballs: start the next
   * address's attempt when one has not connected after this long, first
   * success wins; 0 turns the stagger off; default 250). See
   * docs/pick-first.md.
   */
  pickFirst?: PickFirstOptions;
  /**
   * Panic threshold (Envoy's `healthy_panic_threshold`): when fewer than
   * this percentage of the endpoints are healthy (the others NOT_SERVING
   * or ejected by outlier detection), calls are balanced over every
   * endpoint with a connection, healthy or not, instead of piling onto
   * the few healthy ones or failing; the pool emits a `panic` event on
   * entering and leaving. 0 turns it off. Integer from 0 to 100. Default 50
   * (Envoy's). See docs/panic-threshold.md.
   */
  panicThresholdPercent?: number;
  /**
   * Zone-aware routing over the `policy`: calls stay in the client's zone
   * (`locality.zone`, default env `RNG_ZONE`) and spill over to other zones
   * in proportion to what it lacks (too few READY endpoints, or ORCA
   * utilization above `utilizationThreshold`), as Envoy's zone-aware
   * routing; EndpointSlice hints (`trafficDistribution`) are honoured. It
   * needs a resolver that knows zones (`kubernetes:`, or a custom one
   * setting `attributes.zone`). See docs/zone-aware-routing.md. Default:
   * off (`false` or absent).
   */
  locality?: false | LocalityOptions;
  /**
   * Hedging of unary calls, as gRFC A6: the call goes to another endpoint
   * too when no answer came within `hedgingDelayMs`, the first answer wins
   * and the other attempts are cancelled. Cuts tail latency when a few
   * servers are slow, at the cost of extra attempts (see
   * docs/hedging.md). Only for idempotent methods. Exclusive with
   * `retryPolicy` (as in A6). Default: none; once set, `hedgingDelayMs` 0
   * and `nonFatalCodes` [].
   */
  hedgingPolicy?: HedgingPolicy;
  /**
   * gRFC A6 retry throttling, for `retryPolicy` and `hedgingPolicy`: a
   * token bucket of `maxTokens` shared by the pool's calls; a failed
   * attempt (retryable or non-fatal code) takes 1, a successful call puts
   * back `tokenRatio`; no retries or hedges while half or less is left.
   * Default: none (A6's: only when the service config sets it).
   */
  retryThrottling?: RetryThrottling;
  /**
   * A retry budget as Linkerd's and Envoy's, for `retryPolicy` and
   * `hedgingPolicy`: extra attempts at most `ratio` of the calls of the
   * last `ttlMs`, plus `minRetriesPerSecond`; a fleet where every call
   * fails then gets about `1 + ratio` attempts per call, not
   * `maxAttempts`. `false` turns it off. Default (when either policy is
   * set): `{ ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10000 }`.
   */
  retryBudget?: false | RetryBudgetOptions;
}
