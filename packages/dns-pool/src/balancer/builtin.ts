import { PEAK_EWMA_DEFAULTS, PeakEwmaPolicy } from "./peak-ewma.js";
import { LeastRequestPolicy, PickFirstPolicy, RoundRobinPolicy } from "./policies.js";
import type { LoadBalancingPolicyFactory } from "./policy-context.js";
import { RingHashPolicy, resolveRingHashConfig } from "./ring-hash.js";
import { WEIGHTED_ROUND_ROBIN_DEFAULTS, WeightedRoundRobinPolicy } from "./weighted-round-robin.js";

/** The built-in balancing policies, named as in gRPC service config. */
export type PolicyName =
  | "round_robin"
  | "pick_first"
  | "least_request"
  | "peak_ewma"
  | "weighted_round_robin"
  | "ring_hash";

/** The built-in policies' factories, registered before any other (see registry.ts). */
export const BUILTIN_POLICIES: ReadonlyMap<PolicyName, LoadBalancingPolicyFactory> = new Map<
  PolicyName,
  LoadBalancingPolicyFactory
>([
  ["round_robin", (c) => new RoundRobinPolicy(c.options?.slowStart, c.clock)],
  ["pick_first", (c) => new PickFirstPolicy(c.telemetry, c.options?.pickFirst, c.clock)],
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
  // Its settings come in `policyConfig`, checked here, when a pool picks it.
  ["ring_hash", (c) => new RingHashPolicy(resolveRingHashConfig(c.options?.config))],
]);
