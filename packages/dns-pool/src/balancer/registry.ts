import { BUILTIN_POLICIES } from "./builtin.js";
import type { EndpointInfo, LoadBalancingPolicy } from "./policy.js";
import type { LoadBalancingPolicyFactory, PolicyContext } from "./policy-context.js";

const policies = new Map<string, LoadBalancingPolicyFactory>(BUILTIN_POLICIES);

/**
 * Registers a balancing policy under `name` for pools created afterwards
 * (`policy: name`), as grpc-js's `registerLoadBalancerType`. The built-in
 * round_robin, pick_first, least_request, peak_ewma, weighted_round_robin
 * and ring_hash are registered the same way; a
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
