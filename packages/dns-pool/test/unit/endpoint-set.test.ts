import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPolicy } from "../../src/balancer/registry.js";
import { EndpointSet, type EndpointSetListener } from "../../src/call/endpoint-set.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import type { PoolStateEvent, ResolutionEvent } from "../../src/core/events.js";
import { formatAddress } from "../../src/resolver/address.js";
import { FakeClock, FakeEndpoint, FakeResolver, pickAddresses } from "../../src/testing/index.js";

function setup(policy = "round_robin", eager = true) {
  const created: FakeEndpoint[] = [];
  const resolutions: ResolutionEvent[] = [];
  const states: PoolStateEvent[] = [];
  let pickerChanges = 0;
  const listener: EndpointSetListener = {
    onResolution: (e) => resolutions.push(e),
    onResolutionError: () => {},
    onStateChange: (e) => states.push(e),
  };
  const set = new EndpointSet<FakeEndpoint>(
    "dns:///svc:80",
    createPolicy(policy, { target: "dns:///svc:80", clock: new FakeClock() }),
    (address) => {
      // Connecting moves an IDLE endpoint to CONNECTING, as a subchannel does.
      const e = new FakeEndpoint(formatAddress(address), (self) => {
        if (self.state === S.IDLE) self.state = S.CONNECTING;
      });
      created.push(e);
      return e;
    },
    listener,
    eager,
  );
  set.addPickerListener(() => pickerChanges++);
  const resolver = new FakeResolver();
  resolver.start(set);
  return { set, resolver, created, resolutions, states, pickerChanges: () => pickerChanges };
}

describe("EndpointSet", () => {
  it("turns a resolution into endpoints, connects them (eager) and reports the change", () => {
    const { set, resolver, created, resolutions, states } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"], 5);
    assert.equal(created.length, 2);
    assert.deepEqual(
      created.map((e) => e.connectRequests),
      [1, 1],
    );
    assert.deepEqual(resolutions[0], {
      addresses: ["10.0.0.1:80", "10.0.0.2:80"],
      added: ["10.0.0.1:80", "10.0.0.2:80"],
      removed: [],
      resolved: 2,
      ttlSeconds: 5,
    });
    assert.equal(set.state, S.CONNECTING);
    assert.deepEqual(states.at(-1), { previous: S.IDLE, state: S.CONNECTING });
  });

  it("rebuilds the picker over READY endpoints only", () => {
    const { set, resolver, created } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    created[0]!.state = S.READY;
    created[2]!.state = S.READY;
    set.rebuild();
    assert.equal(set.state, S.READY);
    assert.deepEqual(new Set(pickAddresses(set.picker, 4)), new Set(["10.0.0.1:80", "10.0.0.3:80"]));
  });

  // pick_first holds one connection only: liveness ends it when it is dead, and pick_first moves on.
  for (const policy of ["round_robin", "least_request", "peak_ewma", "weighted_round_robin"]) {
    it(`${policy}: a suspect endpoint gets no picks until it is trusted again; all suspect, all are picked`, () => {
      const { set, resolver, created } = setup(policy);
      resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
      for (const e of created) e.state = S.READY;
      created[0]!.suspect = true;
      set.rebuild();
      assert.deepEqual(new Set(pickAddresses(set.picker, 20)), new Set(["10.0.0.2:80"]));
      created[1]!.suspect = true;
      set.rebuild();
      const picked = new Set(pickAddresses(set.picker, 40));
      assert.ok(!picked.has("-"), "never no pick while endpoints are READY");
      created[1]!.suspect = false;
      set.rebuild();
      assert.deepEqual(new Set(pickAddresses(set.picker, 20)), new Set(["10.0.0.2:80"]));
      created[0]!.suspect = false;
      set.rebuild();
      assert.ok(new Set(pickAddresses(set.picker, 20)).has("10.0.0.1:80"), "back in the picks once trusted");
    });
  }

  it("keeps endpoints of addresses that stay, and drains those that go", async () => {
    const { set, resolver, created, resolutions } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    resolver.push(["10.0.0.2:80", "10.0.0.3:80"]);
    assert.equal(created.length, 3, "10.0.0.2 kept its endpoint");
    assert.deepEqual(resolutions[1]?.added, ["10.0.0.3:80"]);
    assert.deepEqual(resolutions[1]?.removed, ["10.0.0.1:80"]);
    assert.equal(created[0]!.shutDown, true);
    assert.equal(set.drainingCount, 1);
    await Promise.resolve();
    assert.equal(set.drainingCount, 0, "gone once its shutdown resolves");
    assert.deepEqual(
      set.endpoints.map((e) => e.address),
      ["10.0.0.2:80", "10.0.0.3:80"],
    );
  });

  it("a lazy set connects nothing until activated", () => {
    const { set, resolver, created } = setup("round_robin", false);
    resolver.push(["10.0.0.1:80"]);
    assert.equal(created[0]!.connectRequests, 0);
    assert.equal(set.state, S.IDLE);
    assert.equal(set.activate(), true);
    assert.equal(created[0]!.connectRequests, 1);
    assert.equal(set.activate(), false);
  });

  it("pick_first connects one endpoint at a time, moving on past failures", () => {
    const { set, resolver, created } = setup("pick_first");
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    assert.deepEqual(
      created.map((e) => e.connectRequests),
      [1, 0],
    );
    created[0]!.state = S.TRANSIENT_FAILURE;
    set.rebuild();
    // The failed one stays wanted (it retries on its backoff); asking again is a no-op for a subchannel.
    assert.deepEqual(
      created.map((e) => e.connectRequests),
      [2, 1],
    );
    created[1]!.state = S.READY;
    set.rebuild();
    assert.deepEqual(pickAddresses(set.picker, 2), ["10.0.0.2:80", "10.0.0.2:80"]);
  });

  it("a failed resolution keeps the endpoints; with none, the state is TRANSIENT_FAILURE", () => {
    const { set, resolver } = setup();
    resolver.fail("NXDOMAIN");
    assert.equal(set.state, S.TRANSIENT_FAILURE);
    assert.match(set.unavailableError().rawMessage, /no addresses: NXDOMAIN/);
    resolver.push(["10.0.0.1:80"]);
    assert.equal(set.lastResolutionError, undefined);
  });

  it("names endpoint states and the last error in UNAVAILABLE", () => {
    const { set, resolver, created } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    for (const e of created) e.state = S.TRANSIENT_FAILURE;
    created[1]!.lastError = new Error("connect ECONNREFUSED 10.0.0.2:80");
    set.rebuild();
    assert.equal(set.state, S.TRANSIENT_FAILURE);
    assert.equal(
      set.unavailableError().rawMessage,
      'no ready endpoint for target "dns:///svc:80": 2 endpoints (2 TRANSIENT_FAILURE); last error from 10.0.0.2:80: connect ECONNREFUSED 10.0.0.2:80',
    );
  });

  it("close() shuts every endpoint down and stays SHUTDOWN", async () => {
    const { set, resolver, created, states } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    await set.close();
    assert.ok(created.every((e) => e.shutDown));
    assert.equal(set.state, S.SHUTDOWN);
    assert.equal(states.at(-1)?.state, S.SHUTDOWN);
    set.rebuild();
    resolver.push(["10.0.0.9:80"]);
    assert.equal(created.length, 2, "no endpoints after close");
    assert.equal(set.picker.pick(), undefined);
  });
});

describe("resolver warnings", () => {
  it("pass through the set as resolverWarning, changing neither the endpoints nor the state", () => {
    const warnings: string[] = [];
    const errors: string[] = [];
    const set = new EndpointSet<FakeEndpoint>(
      "kubernetes:///svc:80",
      createPolicy("round_robin", { target: "kubernetes:///svc:80", clock: new FakeClock() }),
      (address) => {
        const e = new FakeEndpoint(formatAddress(address));
        e.state = S.READY;
        return e;
      },
      {
        onResolution: () => {},
        onResolutionError: (e) => errors.push(e.error.rawMessage),
        onStateChange: () => {},
        onResolverWarning: (e) => warnings.push(e.warning.rawMessage),
      },
      true,
    );
    const resolver = new FakeResolver();
    resolver.start(set);
    resolver.push(["10.0.0.1:80"]);
    resolver.warn("cannot read the zone of Node n1");
    assert.deepEqual(warnings, ["cannot read the zone of Node n1"]);
    assert.deepEqual(errors, []);
    assert.equal(set.lastResolutionError, undefined);
    assert.equal(set.state, S.READY);
    void set.close();
  });
});
