import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CallResult, EMPTY_PICKER, type Picker } from "../../src/balancer/picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "../../src/balancer/policy.js";
import { createPolicy, registeredPolicies, registerPolicy } from "../../src/balancer/registry.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { resolvePoolOptions } from "../../src/options-resolve.js";
import { buildPicker, FakeClock, fakeEndpoints, pickAddresses } from "../../src/testing/index.js";

const context = { target: "dns:///svc:80", clock: new FakeClock() };

describe("built-in policies, created through the registry", () => {
  it("registers round_robin, pick_first and least_request", () => {
    assert.deepEqual(registeredPolicies().slice(0, 3), ["round_robin", "pick_first", "least_request"]);
    for (const name of ["round_robin", "pick_first", "least_request"]) {
      assert.equal(createPolicy(name, context).name, name);
    }
    assert.throws(() => createPolicy("nope", context), RangeError);
  });

  it("round_robin: every endpoint wanted, rotation over READY ones", () => {
    const policy = createPolicy("round_robin", context);
    const endpoints = fakeEndpoints(3);
    endpoints[1]!.state = S.TRANSIENT_FAILURE;
    assert.equal(policy.wanted, undefined, "default: connect to all");
    const picks = pickAddresses(buildPicker(policy, endpoints), 4);
    assert.deepEqual(new Set(picks), new Set(["10.0.0.1:80", "10.0.0.3:80"]));
    assert.notEqual(picks[0], picks[1], "alternates");
    assert.equal(buildPicker(policy, fakeEndpoints(2, S.CONNECTING)), EMPTY_PICKER);
  });

  it("least_request: prefers the endpoint with fewer calls in flight", () => {
    const policy = createPolicy("least_request", context);
    const [idle, busy] = fakeEndpoints(2);
    busy!.inFlight = 10;
    const picker = buildPicker(policy, [idle!, busy!]);
    assert.deepEqual(new Set(pickAddresses(picker, 20)), new Set([idle!.address]));
  });

  it("pick_first: sticks to the selected endpoint while it is READY", () => {
    const policy = createPolicy("pick_first", context);
    const endpoints = fakeEndpoints(3);
    endpoints[0]!.state = S.CONNECTING;
    assert.deepEqual(pickAddresses(buildPicker(policy, endpoints), 2), ["10.0.0.2:80", "10.0.0.2:80"]);
    endpoints[0]!.state = S.READY;
    assert.equal(buildPicker(policy, endpoints).pick()?.address, "10.0.0.2:80", "no switch back");
    endpoints[1]!.state = S.IDLE;
    assert.equal(buildPicker(policy, endpoints).pick()?.address, "10.0.0.1:80");
    assert.deepEqual(
      policy.wanted?.(endpoints).map((e) => e.address),
      ["10.0.0.1:80"],
    );
  });
});

describe("registerPolicy: a user's policy with the onDone hook", () => {
  /** A toy latency-aware policy: always the endpoint with the lowest last latency. */
  class LowestLatency implements LoadBalancingPolicy {
    readonly name = "lowest_latency";
    readonly latency = new WeakMap<EndpointInfo, number>();
    readonly results: CallResult[] = [];
    buildPicker(ready: readonly EndpointInfo[]): Picker<EndpointInfo> {
      if (ready.length === 0) return EMPTY_PICKER;
      return {
        pick: () => {
          let best = ready[0]!;
          for (const e of ready) if ((this.latency.get(e) ?? 0) < (this.latency.get(best) ?? 0)) best = e;
          return best;
        },
        onDone: (endpoint, result) => {
          this.results.push(result);
          this.latency.set(endpoint, result.latencyMs);
        },
      };
    }
  }

  it("is created by name, accepted by the policy option, and learns from onDone", () => {
    let made: LowestLatency | undefined;
    registerPolicy("lowest_latency", () => {
      made = new LowestLatency();
      return made;
    });
    assert.equal(
      resolvePoolOptions({ target: "dns:///svc:80", policy: "lowest_latency" }).policy,
      "lowest_latency",
    );
    const policy = createPolicy("lowest_latency", context);
    const [a, b] = fakeEndpoints(2);
    const picker = buildPicker(policy, [a!, b!]);
    assert.equal(picker.pick(), a);
    const trailers = new Headers({ "endpoint-load-metrics-bin": "x" });
    picker.onDone?.(a!, { latencyMs: 50, ok: true, code: undefined, trailers });
    assert.equal(picker.pick(), b);
    assert.equal(made?.results[0]?.trailers?.get("endpoint-load-metrics-bin"), "x");
  });

  it("rejects an empty name", () => {
    assert.throws(() => registerPolicy("", () => new LowestLatency()), TypeError);
  });
});
