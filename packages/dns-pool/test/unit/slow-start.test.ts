import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PEAK_EWMA_DEFAULTS, PeakEwmaPolicy } from "../../src/balancer/peak-ewma.js";
import { LeastRequestPolicy, RoundRobinPolicy } from "../../src/balancer/policies.js";
import type { LoadBalancingPolicy } from "../../src/balancer/policy.js";
import { createPolicy } from "../../src/balancer/registry.js";
import { type ResolvedSlowStart, SlowStart, slowStartWeight } from "../../src/balancer/slow-start.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { buildPicker, FakeClock, FakeEndpoint, fakeEndpoints } from "../../src/testing/index.js";

const config: ResolvedSlowStart = { windowMs: 10_000, aggression: 1, minWeightPercent: 10 };

describe("slowStartWeight (Envoy's formula)", () => {
  it("rises from the floor to 1 over the window, shaped by aggression", () => {
    assert.equal(slowStartWeight(0, config), 0.1);
    assert.equal(slowStartWeight(500, config), 0.1, "below the floor: the floor");
    assert.equal(slowStartWeight(5000, config), 0.5);
    assert.equal(slowStartWeight(10_000, config), 1);
    const fast = { ...config, aggression: 2 };
    assert.ok(Math.abs(slowStartWeight(2500, fast) - 0.5) < 1e-12, "sqrt(0.25)");
    assert.equal(slowStartWeight(0, { ...config, minWeightPercent: 0 }), 0);
  });
});

describe("SlowStart: who ramps", () => {
  it("not the first resolution's endpoints on their first connection; a later one, and one that comes back", () => {
    const clock = new FakeClock();
    const ss = new SlowStart<FakeEndpoint>(config, clock);
    const initial = fakeEndpoints(3, S.CONNECTING);
    assert.equal(ss.update(initial), undefined);
    // They connect one after the other: no ramp, even though others are READY.
    initial[0]!.state = S.READY;
    assert.equal(ss.update(initial), undefined);
    for (const e of initial) e.state = S.READY;
    assert.equal(ss.update(initial), undefined);
    // A new pod appears and connects: it ramps.
    const added = new FakeEndpoint("10.0.0.9:80");
    const all = [...initial, added];
    added.state = S.READY;
    const w = ss.update(all);
    assert.ok(w, "ramping");
    assert.equal(w.weight(added, clock.now()), 0.1);
    assert.equal(w.weight(initial[0]!, clock.now()), 1);
    clock.advance(5000);
    assert.equal(w.weight(added, clock.now()), 0.5);
    clock.advance(5000);
    assert.equal(ss.update(all), undefined, "window over");
    // An initial endpoint drops and comes back: it may have restarted cold, so it ramps.
    initial[0]!.state = S.TRANSIENT_FAILURE;
    assert.equal(ss.update(all), undefined);
    initial[0]!.state = S.READY;
    assert.ok(ss.update(all)?.weight(initial[0]!, clock.now()) === 0.1);
  });

  it("does not ramp an endpoint that becomes READY when none is (it is the only way out)", () => {
    const clock = new FakeClock();
    const ss = new SlowStart<FakeEndpoint>(config, clock);
    const [a, b] = fakeEndpoints(2);
    ss.update([a!, b!]);
    a!.state = S.CONNECTING;
    b!.state = S.CONNECTING;
    ss.update([a!, b!]);
    a!.state = S.READY;
    assert.equal(ss.update([a!, b!]), undefined);
  });

  it("an endpoint left out of the picker while READY (liveness doubting it) keeps its ramp when trusted again", () => {
    const clock = new FakeClock();
    const policy = new RoundRobinPolicy<FakeEndpoint>(config, clock);
    const all = fakeEndpoints(4);
    policy.buildPicker(all.slice(0, 3), all.slice(0, 3));
    // A new pod joins and ramps.
    policy.buildPicker(all, all);
    clock.advance(9000);
    // An old pod is doubted for a moment (READY all along), then trusted again:
    // a doubt is not a restart, so it takes a full share, not a ramp from the floor.
    policy.buildPicker([all[0]!, all[2]!, all[3]!], all);
    policy.buildPicker(all, all);
    clock.advance(1500);
    const picker = policy.buildPicker(all, all);
    const counts = new Map<FakeEndpoint, number>();
    for (let i = 0; i < 4000; i++) {
      const e = picker.pick()!;
      counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    assert.equal(counts.get(all[1]!), 1000, "the doubted pod keeps its full share");
  });
});

/**
 * Share of the new (last) endpoint in `n` picks, with 16 calls in flight
 * that end in the order they started (equal latency), so that in-flight
 * counts move as they would under a closed-loop load.
 */
function newShare(policy: LoadBalancingPolicy<FakeEndpoint>, all: FakeEndpoint[], n = 20_000): number {
  const picker = buildPicker(policy, all);
  const added = all.at(-1)!;
  const inFlight: FakeEndpoint[] = [];
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const e = picker.pick()!;
    if (e === added) hits++;
    e.inFlight++;
    inFlight.push(e);
    if (inFlight.length > 16) inFlight.shift()!.inFlight--;
  }
  for (const e of inFlight) e.inFlight--;
  return hits / n;
}

for (const [name, make] of [
  ["round_robin", (clock: FakeClock) => new RoundRobinPolicy<FakeEndpoint>(config, clock)],
  ["least_request", (clock: FakeClock) => new LeastRequestPolicy<FakeEndpoint>(config, clock)],
  ["peak_ewma", (clock: FakeClock) => new PeakEwmaPolicy<FakeEndpoint>(PEAK_EWMA_DEFAULTS, clock, config)],
] as const) {
  describe(`${name} with slow start`, () => {
    it("gives a joining endpoint a share that rises over the window to a full one", () => {
      const clock = new FakeClock();
      const policy = make(clock);
      const initial = fakeEndpoints(4);
      buildPicker(policy, initial);
      const added = new FakeEndpoint("10.0.0.9:80");
      added.state = S.READY;
      const all = [...initial, added];
      const early = newShare(policy, all);
      clock.advance(5000);
      const middle = newShare(policy, all);
      clock.advance(5000);
      const late = newShare(policy, all);
      assert.ok(early < middle && middle < late, `rises: ${early} < ${middle} < ${late}`);
      assert.ok(early < 0.1, `starts low: ${early}`);
      assert.ok(late > 0.15, `ends at about a fifth: ${late}`);
    });
  });
}

describe("slow start through the registry", () => {
  it("is off unless the options turn it on", () => {
    const clock = new FakeClock();
    const policy = createPolicy<FakeEndpoint>("round_robin", { target: "t", clock });
    const initial = fakeEndpoints(4);
    buildPicker(policy, initial);
    const added = new FakeEndpoint("10.0.0.9:80");
    added.state = S.READY;
    const share = newShare(policy, [...initial, added], 1000);
    assert.equal(share, 0.2, "plain rotation: exactly a fifth");
  });
});
