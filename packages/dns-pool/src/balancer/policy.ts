import type { Clock } from "../clock.js";
import type { ConnectivityState } from "../connection/connectivity.js";
import type { HealthStatus } from "../health/health-check.js";
import type { PolicyTelemetry } from "../telemetry/policy-instruments.js";
import { PEAK_EWMA_DEFAULTS, PeakEwmaPolicy, type ResolvedPeakEwma } from "./peak-ewma.js";
import type { Balanceable, Picker } from "./picker.js";
import { LeastRequestPolicy, PickFirstPolicy, RoundRobinPolicy } from "./policies.js";
import type { ResolvedSlowStart } from "./slow-start.js";
import {
  type ResolvedWeightedRoundRobin,
  WEIGHTED_ROUND_ROBIN_DEFAULTS,
  WeightedRoundRobinPolicy,
} from "./weighted-round-robin.js";

/** The built-in balancing policies, named as in gRPC service config. */
export type PolicyName =
  | "round_robin"
  | "pick_first"
  | "least_request"
  | "peak_ewma"
  | "weighted_round_robin";

/**
 * What a policy sees of one endpoint. The objects are the pool's own and
 * live as long as the address stays resolved, so a policy may key per-
 * endpoint state (EWMA, weights) on them, e.g. in a WeakMap.
 */
export interface EndpointInfo extends Balanceable {
  /** The address, e.g. "10.0.0.1:8081", "[fd00::1]:8081" or "unix:/run/rng.sock". */
  readonly address: string;
  /** Calls started on it since it joined the pool. */
  readonly calls: number;
  /** Of those, calls that ended with an error. */
  readonly failures: number;
  /** What health checking says of it. */
  readonly health: HealthStatus;
  /**
   * The connection's own state, before health checking and outlier
   * ejection lower `state` (pick_first's metrics count connections, not
   * health). Optional for endpoints built by hand; `state` stands in.
   */
  readonly connectivity?: ConnectivityState;
}

/**
 * A load-balancing policy: which endpoints hold connections, and a picker
 * over the READY ones. One instance per pool; register a factory for it
 * with {@link registerPolicy} and select it with the `policy` option.
 */
export interface LoadBalancingPolicy<E extends EndpointInfo = EndpointInfo> {
  /** The name it is registered under. */
  readonly name: string;
  /**
   * The endpoints that should be connected now (given in address order).
   * Optional; default: every endpoint, as round_robin does.
   */
  wanted?(endpoints: readonly E[]): readonly E[];
  /**
   * A picker for the current states, called after every change (resolution,
   * connectivity, health, ejection). `ready` holds the READY endpoints,
   * `all` every endpoint, both in address order. A policy that has nothing
   * to offer returns `EMPTY_PICKER`.
   */
  buildPicker(ready: readonly E[], all: readonly E[]): Picker<E>;
  /**
   * Optional: request headers added to every call the pool makes (unless
   * the call sets them), fixed for the pool's life. weighted_round_robin
   * sends `endpoint-load-metrics-format` so that servers reporting load
   * "on request" include their ORCA report. Default: none (no cost).
   */
  readonly requestHeaders?: Readonly<Record<string, string>>;
}

/** What a policy factory gets from the pool. */
export interface PolicyContext {
  /** The pool's target, as given. */
  readonly target: string;
  /** The pool's clock (for time-decayed policies such as peak EWMA). */
  readonly clock: Clock;
  /**
   * The pool's balancing options, defaults filled in and checked. Optional
   * so that code which builds a context by hand (tests) may leave it out;
   * the built-in policies then use their defaults.
   */
  readonly options?: PolicyOptions;
  /**
   * The pool's gRFC A78 instruments (weighted_round_robin's and
   * pick_first's), labelled with its `grpc.target`; a no-op when metrics
   * are off. Optional for contexts built by hand; the built-in policies
   * then record nothing.
   */
  readonly telemetry?: PolicyTelemetry;
}

/** The balancing options a policy gets through its {@link PolicyContext}. */
export interface PolicyOptions {
  /** Slow start of joining endpoints (round_robin, least_request, peak_ewma), or undefined when off. */
  readonly slowStart: ResolvedSlowStart | undefined;
  /** peak_ewma's settings. */
  readonly peakEwma: ResolvedPeakEwma;
  /** weighted_round_robin's settings. */
  readonly weightedRoundRobin: ResolvedWeightedRoundRobin;
  /** The pool's `policyConfig` option, as given, for policies added with {@link registerPolicy}. */
  readonly config: unknown;
}

/** Makes one policy instance per pool. */
export type LoadBalancingPolicyFactory = (context: PolicyContext) => LoadBalancingPolicy;

/**
 * The earlier form of a policy, which gets every endpoint and filters READY
 * ones itself.
 * @deprecated Implement {@link LoadBalancingPolicy}; kept for source compatibility.
 */
export interface BalancingPolicy<E extends Balanceable> {
  /** The policy's name. */
  readonly name: PolicyName;
  /** The endpoints that should be connected now. */
  wanted(endpoints: readonly E[]): readonly E[];
  /** A picker over the endpoints' current states. */
  buildPicker(endpoints: readonly E[]): Picker<E>;
}

const policies = new Map<string, LoadBalancingPolicyFactory>([
  ["round_robin", (c) => new RoundRobinPolicy(c.options?.slowStart, c.clock)],
  ["pick_first", (c) => new PickFirstPolicy(c.telemetry)],
  ["least_request", (c) => new LeastRequestPolicy(c.options?.slowStart, c.clock)],
  [
    "peak_ewma",
    (c) => new PeakEwmaPolicy(c.options?.peakEwma ?? PEAK_EWMA_DEFAULTS, c.clock, c.options?.slowStart),
  ],
  [
    "weighted_round_robin",
    (c) =>
      new WeightedRoundRobinPolicy(
        c.options?.weightedRoundRobin ?? WEIGHTED_ROUND_ROBIN_DEFAULTS,
        c.clock,
        c.telemetry,
      ),
  ],
]);

/**
 * Registers a balancing policy under `name` for pools created afterwards
 * (`policy: name`), as grpc-js's `registerLoadBalancerType`. The built-in
 * round_robin, pick_first, least_request, peak_ewma and weighted_round_robin
 * are registered the same way; a
 * later registration of a name replaces the earlier one.
 *
 * @throws TypeError for an empty name.
 */
export function registerPolicy(name: string, factory: LoadBalancingPolicyFactory): void {
  if (typeof name !== "string" || name === "") throw new TypeError("a policy needs a non-empty name");
  policies.set(name, factory);
}

/** The names of every registered policy, in registration order (built-ins first). */
export function registeredPolicies(): string[] {
  return [...policies.keys()];
}

/**
 * A new instance of the policy registered as `name`.
 * @throws RangeError when no policy is registered under that name.
 */
export function createPolicy<E extends EndpointInfo>(
  name: string,
  context: PolicyContext,
): LoadBalancingPolicy<E> {
  const factory = policies.get(name);
  if (!factory) throw new RangeError(`no balancing policy "${name}"`);
  // Pickers return the objects they were given, so a policy typed for
  // EndpointInfo hands back the pool's own endpoint objects.
  return factory(context) as unknown as LoadBalancingPolicy<E>;
}
