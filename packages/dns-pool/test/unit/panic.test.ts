import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createPolicy } from "../../src/balancer/registry.js";
import { EndpointSet } from "../../src/call/endpoint-set.js";
import { countPanic } from "../../src/call/panic.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import type { PanicEvent } from "../../src/core/events.js";
import { formatAddress } from "../../src/resolver/address.js";
import {
  FakeClock,
  FakeEndpoint,
  FakeResolver,
  fakeEndpoints,
  pickAddresses,
} from "../../src/testing/index.js";

/** A connected endpoint that health checking (or an ejection) holds back. */
function holdBack(e: FakeEndpoint): void {
  e.connectivity = S.READY;
  e.state = S.TRANSIENT_FAILURE;
}

function setup(n: number, thresholdPercent: number, policy = "round_robin") {
  const created: FakeEndpoint[] = [];
  const panics: PanicEvent[] = [];
  const set = new EndpointSet<FakeEndpoint>(
    "dns:///svc:80",
    createPolicy(policy, { target: "dns:///svc:80", clock: new FakeClock() }),
    (address) => {
      const e = new FakeEndpoint(formatAddress(address));
      e.state = S.READY;
      created.push(e);
      return e;
    },
    {
      onResolution: () => {},
      onResolutionError: () => {},
      onStateChange: () => {},
      onPanicChange: (e) => panics.push(e),
    },
    true,
    thresholdPercent,
  );
  const resolver = new FakeResolver();
  resolver.start(set);
  resolver.push(Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}:80`));
  return { set, created, panics };
}

describe("panic threshold (Envoy's healthy_panic_threshold)", () => {
  it("6 of 9 NOT_SERVING (33 % healthy < 50 %): calls spread over all 9, and the pool says so once", () => {
    const { set, created, panics } = setup(9, 50);
    for (const e of created.slice(0, 6)) holdBack(e);
    set.rebuild();
    assert.equal(set.panic, true);
    assert.deepEqual(panics, [{ panic: true, healthy: 3, total: 9 }]);
    const picks = pickAddresses(set.picker, 90);
    assert.equal(new Set(picks).size, 9, "every endpoint gets calls");
    set.rebuild();
    assert.equal(panics.length, 1, "no repeat while it lasts");
    // Two come back: 5 of 9 healthy (56 %) is above the threshold.
    for (const e of created.slice(0, 2)) e.state = S.READY;
    set.rebuild();
    assert.equal(set.panic, false);
    assert.deepEqual(panics.at(-1), { panic: false, healthy: 5, total: 9 });
    assert.equal(new Set(pickAddresses(set.picker, 50)).size, 5, "only the healthy ones again");
  });

  it("off (0): the 3 healthy endpoints take every call", () => {
    const { set, created, panics } = setup(9, 0);
    for (const e of created.slice(0, 6)) holdBack(e);
    set.rebuild();
    assert.equal(set.panic, false);
    assert.deepEqual(panics, []);
    assert.deepEqual(
      new Set(pickAddresses(set.picker, 60)),
      new Set(["10.0.0.7:80", "10.0.0.8:80", "10.0.0.9:80"]),
    );
  });

  it("none healthy: READY in panic (calls still run) instead of TRANSIENT_FAILURE", () => {
    const on = setup(3, 50);
    const off = setup(3, 0);
    for (const { set, created } of [on, off]) {
      for (const e of created) holdBack(e);
      set.rebuild();
    }
    assert.equal(on.set.state, S.READY);
    assert.equal(new Set(pickAddresses(on.set.picker, 30)).size, 3);
    assert.equal(off.set.state, S.TRANSIENT_FAILURE);
    assert.equal(off.set.picker.pick(), undefined);
  });

  it("endpoints without a connection never get calls, panic or not", () => {
    const { set, created } = setup(5, 50);
    holdBack(created[0]!);
    created[1]!.state = S.TRANSIENT_FAILURE; // cannot connect
    created[2]!.state = S.CONNECTING;
    created[3]!.state = S.TRANSIENT_FAILURE;
    set.rebuild();
    assert.equal(set.panic, true, "1 of 5 healthy, 1 still connecting");
    assert.deepEqual(new Set(pickAddresses(set.picker, 40)), new Set(["10.0.0.1:80", "10.0.0.5:80"]));
  });

  it("a pool still connecting, with nothing known unhealthy, is not in panic", () => {
    const endpoints = fakeEndpoints(3, S.CONNECTING);
    assert.equal(countPanic(endpoints, 50).panic, false);
    endpoints[0]!.state = S.TRANSIENT_FAILURE; // a refused connection is not a health verdict
    assert.equal(countPanic(endpoints, 50).panic, false);
  });

  it("1 NOT_SERVING while the other 9 are still connecting is not panic: no call goes to the NOT_SERVING one", () => {
    const { set, created } = setup(10, 50);
    holdBack(created[0]!);
    for (const e of created.slice(1)) e.state = S.CONNECTING;
    set.rebuild();
    assert.equal(set.panic, false, "nothing known of the 9: not counted as unhealthy");
    assert.deepEqual(pickAddresses(set.picker, 10), Array(10).fill("-"), "calls wait for a healthy endpoint");
    const counted = countPanic(created, 50);
    assert.deepEqual([counted.healthy, counted.pending, counted.total], [0, 9, 10]);
    // They all fail to connect: now the NOT_SERVING one is all there is, and panic lets it serve.
    for (const e of created.slice(1)) e.state = S.TRANSIENT_FAILURE;
    set.rebuild();
    assert.equal(set.panic, true);
    assert.deepEqual(new Set(pickAddresses(set.picker, 10)), new Set(["10.0.0.1:80"]));
  });

  it("connected endpoints still waiting for their first health answer are not unhealthy: 1 SERVING, 1 PENDING, 1 NOT_SERVING is not panic", () => {
    const { set, created } = setup(3, 50);
    holdBack(created[2]!); // NOT_SERVING answered first
    created[1]!.connectivity = S.READY;
    created[1]!.health = "PENDING";
    created[1]!.state = S.CONNECTING; // what an endpoint reports until its first health answer
    set.rebuild();
    assert.equal(set.panic, false);
    assert.deepEqual(
      new Set(pickAddresses(set.picker, 10)),
      new Set(["10.0.0.1:80"]),
      "none to the NOT_SERVING one",
    );
    const counted = countPanic(created, 50);
    assert.deepEqual([counted.healthy, counted.pending, counted.total], [1, 1, 3]);
  });

  it("the threshold is a strict share: exactly 50 % healthy is not panic, 100 panics unless all are healthy", () => {
    const endpoints = fakeEndpoints(4);
    holdBack(endpoints[0]!);
    holdBack(endpoints[1]!);
    assert.equal(countPanic(endpoints, 50).panic, false);
    assert.equal(countPanic(endpoints, 51).panic, true);
    assert.equal(countPanic(endpoints, 100).panic, true);
    assert.equal(countPanic(endpoints, 0).panic, false);
  });
});
