// biome-ignore-all assist/source/organizeImports: the exports are grouped by section (the transport, its options, events and state, then each extension point); sorting them would scatter the sections.
/**
 * Client-side load balancing for Connect-ES: a `Transport` that resolves a
 * gRPC-style target (`dns:`, `ipv4:`, `ipv6:`, `unix:`, `kubernetes:`, or a
 * scheme added with {@link registerResolver}) and spreads calls over every
 * address with a balancing policy (built-in, or added with
 * {@link registerPolicy}), re-resolving as pods come and go.
 *
 * This index is the API and its extension points; everything else in the
 * package is internal and may change in any release.
 *
 * @packageDocumentation
 */

// The transport.
export {
  createPoolTransport,
  type EndpointStats,
  type LocalityStats,
  type PoolStats,
  PoolTransport,
} from "./pool.js";

// Its options.
export type {
  EndpointTransportOptions,
  HealthCheckOptions,
  OutlierDetectionOptions,
  PoolHttp2Options,
  PoolProtocol,
  PoolTlsOptions,
  PoolTransportOptions,
  RetryPolicy,
  SubsetOptions,
} from "./options.js";
export type { HedgingPolicy, RetryBudgetOptions, RetryThrottling } from "./options.js";
export type { PolicyName } from "./balancer/builtin.js";
export type { PeakEwmaOptions, ResolvedPeakEwma } from "./balancer/peak-ewma.js";
export {
  hashKey,
  RING_HASH_DEFAULTS,
  type ResolvedRingHash,
  type RingHashConfig,
  RingHashPolicy,
} from "./balancer/ring-hash.js";
export type { PickFirstOptions, ResolvedPickFirst } from "./balancer/pick-first-order.js";
export type { ResolvedSlowStart, SlowStartOptions } from "./balancer/slow-start.js";
export type {
  ResolvedWeightedRoundRobin,
  WeightedRoundRobinOptions,
} from "./balancer/weighted-round-robin.js";
export {
  LOCALITY_DEFAULTS,
  type LocalityOptions,
  LocalityPicker,
  LocalityPolicy,
  type ResolvedLocality,
  resolveLocality,
} from "./balancer/locality.js";
export type { BackoffOptions } from "./core/backoff.js";
export type { KeepaliveOptions } from "./connection/http2-connection.js";
export type { LivenessOptions } from "./connection/liveness.js";
export type { PoolTelemetryOptions } from "./telemetry/pool-telemetry-options.js";

// State, events and errors.
export { ConnectivityState } from "./core/connectivity.js";
export { type HealthStatus, POOL_HEALTH_CHECK } from "./health/health-check.js";
export type {
  EjectionEvent,
  EndpointStateEvent,
  PanicEvent,
  PickEvent,
  PoolEvents,
  PoolStateEvent,
  ResolutionErrorEvent,
  ResolutionEvent,
  ResolverWarningEvent,
  RetryEvent,
} from "./core/events.js";
export {
  classifyTransportError,
  errorCodeInChain,
  errorCodesInChain,
  type TransportErrorKind,
} from "./core/errors.js";

// Extension point: resolvers by target scheme.
export { parseTarget, type Target } from "./resolver/target.js";
export type {
  DnsTarget,
  IpListTarget,
  KubernetesTarget,
  PassthroughTarget,
  UnixTarget,
} from "./resolver/builtin.js";
export { type CustomTarget, registeredSchemes, registerResolver } from "./resolver/registry.js";
export {
  type Resolution,
  type Resolver,
  type ResolverFactory,
  type ResolverListener,
  type ResolverOptions,
  StaticResolver,
  type TargetUri,
} from "./resolver/resolver.js";
export {
  type Address,
  type AddressAttributes,
  formatAddress,
  type TcpAddress,
  type UnixAddress,
} from "./resolver/address.js";

// Extension point: balancing policies and their pickers.
export type { EndpointInfo, LoadBalancingPolicy } from "./balancer/policy.js";
export type { LoadBalancingPolicyFactory, PolicyContext, PolicyOptions } from "./balancer/policy-context.js";
export { registeredPolicies, registerPolicy } from "./balancer/registry.js";
// The built-in pickers, for a custom policy that picks as round_robin or least_request over its own choice of endpoints.
export {
  type Balanceable,
  type CallResult,
  EMPTY_PICKER,
  LeastRequestPicker,
  type Picker,
  type PickInfo,
  RoundRobinPicker,
} from "./balancer/picker.js";
export {
  ORCA_REQUEST_HEADER,
  ORCA_TRAILER,
  type OrcaLoadReport,
  readOrcaReport,
  reportedUtilization,
} from "./balancer/orca.js";
export type { Clock, TimerHandle } from "./core/clock.js";
export type { PolicyTelemetry, WrrSchedulerUpdate } from "./telemetry/policy-instruments.js";

// Subsetting algorithms (the `subset` option picks one; see docs/subsetting.md).
export {
  createSubsetter,
  defaultClientId,
  type Subsetter,
  type SubsetterKind,
  type SubsetterOptions,
} from "./subset/index.js";

// Telemetry: instrument names, attributes and buckets (for dashboards, views and tests).
export { ATTR, METRIC, STATUS_NAMES, statusName, TELEMETRY_BUCKETS } from "./telemetry/names.js";
export { INSTRUMENTATION_SCOPE } from "./telemetry/pool-telemetry.js";
