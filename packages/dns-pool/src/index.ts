/**
 * Client-side load balancing for Connect-ES: a `Transport` that resolves a
 * gRPC-style target (`dns:`, `ipv4:`, `ipv6:`, `unix:`) and spreads calls
 * over every address, re-resolving as pods come and go.
 *
 * @packageDocumentation
 */
export type { Address, TcpAddress, UnixAddress } from "./address.js";
export { formatAddress } from "./address.js";
export type { BackoffOptions } from "./backoff.js";
export { type Balanceable, LeastRequestPicker, type Picker, RoundRobinPicker } from "./balancer/picker.js";
export type { BalancingPolicy, PolicyName } from "./balancer/policy.js";
export { ConnectivityState } from "./connectivity.js";
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
export type { HealthStatus } from "./health-check.js";
export type {
  OutlierDetectionOptions,
  PoolProtocol,
  PoolTlsOptions,
  PoolTransportOptions,
  RetryPolicy,
  SubsetOptions,
} from "./options.js";
export { createPoolTransport, type EndpointStats, type PoolStats, PoolTransport } from "./pool.js";
export type { Resolution, Resolver, ResolverListener } from "./resolver/resolver.js";
export type { KeepaliveOptions } from "./subchannel.js";
export {
  createSubsetter,
  defaultClientId,
  type Subsetter,
  type SubsetterKind,
  type SubsetterOptions,
} from "./subset/index.js";
export { parseTarget, type Target } from "./target.js";
