/**
 * Client-side load balancing for Connect-ES: a `Transport` that resolves a
 * gRPC-style target (`dns:`, `ipv4:`, `ipv6:`, `unix:`, `kubernetes:`, or a
 * scheme added with {@link registerResolver}) and spreads calls over every
 * address with a balancing policy (built-in, or added with
 * {@link registerPolicy}), re-resolving as pods come and go.
 *
 * @packageDocumentation
 */

export { EdfScheduler } from "./balancer/edf-scheduler.js";
export {
  ORCA_REQUEST_HEADER,
  ORCA_TRAILER,
  type OrcaLoadReport,
  readOrcaReport,
  reportedUtilization,
} from "./balancer/orca.js";
export {
  PEAK_EWMA_DEFAULTS,
  type PeakEwmaOptions,
  PeakEwmaPicker,
  PeakEwmaPolicy,
  type ResolvedPeakEwma,
  RttEstimate,
} from "./balancer/peak-ewma.js";
// Extension point: balancing policies and pickers.
export {
  type Balanceable,
  type CallResult,
  EMPTY_PICKER,
  FixedPicker,
  LeastRequestPicker,
  type Picker,
  RoundRobinPicker,
} from "./balancer/picker.js";
export { LeastRequestPolicy, PickFirstPolicy, RoundRobinPolicy } from "./balancer/policies.js";
export {
  type BalancingPolicy,
  type EndpointInfo,
  type LoadBalancingPolicy,
  type LoadBalancingPolicyFactory,
  type PolicyContext,
  type PolicyName,
  type PolicyOptions,
  registeredPolicies,
  registerPolicy,
} from "./balancer/policy.js";
export {
  type ResolvedSlowStart,
  SlowStart,
  type SlowStartOptions,
  type SlowStartWeights,
  slowStartWeight,
} from "./balancer/slow-start.js";
export {
  EndpointWeight,
  type ResolvedWeightedRoundRobin,
  WEIGHTED_ROUND_ROBIN_DEFAULTS,
  type WeightedRoundRobinOptions,
  WeightedRoundRobinPicker,
  WeightedRoundRobinPolicy,
} from "./balancer/weighted-round-robin.js";
export { type Clock, preciseNow, systemClock, type TimerHandle } from "./clock.js";
// Connections and health.
export type { BackoffOptions } from "./connection/backoff.js";
export { ConnectivityState } from "./connection/connectivity.js";
export type { KeepaliveOptions } from "./connection/http2-connection.js";
export {
  classifyTransportError,
  errorCodeInChain,
  errorCodesInChain,
  type TransportErrorKind,
} from "./errors.js";
export type {
  EjectionEvent,
  EndpointStateEvent,
  PickEvent,
  PoolEvents,
  PoolStateEvent,
  ResolutionErrorEvent,
  ResolutionEvent,
  RetryEvent,
} from "./events.js";
export { type HealthStatus, POOL_HEALTH_CHECK } from "./health/health-check.js";
export type {
  HealthCheckOptions,
  OutlierDetectionOptions,
  PoolProtocol,
  PoolTlsOptions,
  PoolTransportOptions,
  RetryPolicy,
  SubsetOptions,
} from "./options.js";
// The transport and its options.
export { createPoolTransport, type EndpointStats, type PoolStats, PoolTransport } from "./pool.js";
// Extension point: resolvers by target scheme.
export type { Address, TcpAddress, UnixAddress } from "./resolver/address.js";
export { formatAddress } from "./resolver/address.js";
export { registeredSchemes, registerResolver } from "./resolver/registry.js";
export {
  type Resolution,
  type Resolver,
  type ResolverFactory,
  type ResolverListener,
  type ResolverOptions,
  StaticResolver,
  type TargetUri,
} from "./resolver/resolver.js";
// Subsetting algorithms.
export {
  createSubsetter,
  defaultClientId,
  type Subsetter,
  type SubsetterKind,
  type SubsetterOptions,
} from "./subset/index.js";
export { SubsettingResolver } from "./subset/subset-resolver.js";
export { parseTarget, type Target } from "./target.js";
// Telemetry: instrument names, attributes and buckets (for dashboards, views and tests).
export {
  ATTR,
  METRIC,
  STATUS_NAMES,
  statusName,
  TELEMETRY_BUCKETS,
} from "./telemetry/names.js";
export type { PolicyTelemetry, WrrSchedulerUpdate } from "./telemetry/policy-instruments.js";
export { INSTRUMENTATION_SCOPE } from "./telemetry/pool-telemetry.js";
export type { PoolTelemetryOptions } from "./telemetry/pool-telemetry-options.js";
export { injectTraceContext } from "./telemetry/tracing.js";
