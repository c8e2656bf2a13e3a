import type { Clock } from "../core/clock.js";
import type { PolicyTelemetry } from "../telemetry/policy-instruments.js";
import type { ResolvedPeakEwma } from "./peak-ewma.js";
import type { ResolvedPickFirst } from "./pick-first-order.js";
import type { LoadBalancingPolicy } from "./policy.js";
import type { ResolvedSlowStart } from "./slow-start.js";
import type { ResolvedWeightedRoundRobin } from "./weighted-round-robin.js";

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
  /** pick_first's settings (gRFC A61, A62); undefined: its defaults (no shuffle, 250 ms stagger). */
  readonly pickFirst?: ResolvedPickFirst;
  /** The pool's `policyConfig` option, as given, for policies added with `registerPolicy`. */
  readonly config: unknown;
}

/** Makes one policy instance per pool. */
export type LoadBalancingPolicyFactory = (context: PolicyContext) => LoadBalancingPolicy;
