import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { PEAK_EWMA_DEFAULTS, PeakEwmaPolicy, RttEstimate } from "../../src/balancer/peak-ewma.js";
import type { CallResult, Picker } from "../../src/balancer/picker.js";
import { createPolicy } from "../../src/balancer/registry.js";
import {
  buildPicker,
  FakeClock,
  type FakeEndpoint,
  fakeEndpoints,
  pickShares,
} from "../../src/testing/index.js";

const ok = (latencyMs: number): CallResult => ({ latencyMs, ok: true, code: undefined, trailers: undefined });

/** Every endpoint answers one call at its latency (as calls ending would). */
function feed(picker: Picker<FakeEndpoint>, latencies: Map<FakeEndpoint, number>): void {
  for (const [e, ms] of latencies) picker.onDone?.(e, ok(ms));
}

describe("RttEstimate (peak EWMA)", () => {
  it("takes the first sample as is, jumps to a peak at once, follows lower samples with the time constant, decays toward 0", () => {
    const e = new RttEstimate(30, 0, 10_000);
    assert.equal(e.read(0), 30);
    e.observe(100, 0); // peak
    assert.equal(e.read(0), 100);
    // 10 s later without samples: 100 × e^-1.
    assert.ok(Math.abs(e.read(10_000) - 100 / Math.E) < 1e-9);
    // A low sample after 1 s moves the estimate only part of the way (time-weighted).
    const f = new RttEstimate(30, 0, 10_000);
    f.observe(100, 0); // the first sample replaces the default
    f.observe(0, 1000);
    const w = Math.exp(-0.1);
    assert.ok(Math.abs(f.read(1000) - 100 * w) < 1e-9);
    assert.ok(f.read(1000) > 50, "one sample does not wipe out the history");
  });

  it("never goes negative and reads the same before the stamp", () => {
    const e = new RttEstimate(10, 1000, 500);
    assert.equal(e.read(900), 10);
    assert.ok(e.read(1e9) >= 0);
  });
});

describe("peak_ewma policy", () => {
  it("is registered and takes its options from the context", () => {
    const clock = new FakeClock();
    const policy = createPolicy("peak_ewma", { target: "t", clock });
    assert.equal(policy.name, "peak_ewma");
  });

  it("moves calls off a slow endpoint, and tries it again as its estimate decays", () => {
    const clock = new FakeClock();
    const policy = new PeakEwmaPolicy<FakeEndpoint>(PEAK_EWMA_DEFAULTS, clock);
    const endpoints = fakeEndpoints(5);
    const slow = endpoints[4]!;
    const picker = buildPicker(policy, endpoints);
    const latency = new Map(endpoints.map((e) => [e, e === slow ? 50 : 1]));
    // Half a second of traffic: every endpoint answers a few calls.
    for (let t = 0; t < 50; t++) {
      clock.advance(10);
      feed(picker, latency);
    }
    const s = pickShares(picker, 10_000);
    assert.ok((s.get(slow.address) ?? 0) < 0.01, `slow share ${s.get(slow.address)}`);
    // With no calls for 40 s (4 time constants) its 50 ms estimate decays below the others' 1 ms × e^-4.
    // The fast ones decay too; give them fresh samples, but none to the slow one.
    clock.advance(40_000);
    feed(picker, new Map(endpoints.filter((e) => e !== slow).map((e) => [e, 1])));
    slow.inFlight = 0;
    const later = pickShares(picker, 10_000);
    assert.ok((later.get(slow.address) ?? 0) > 0.05, `probed again: ${later.get(slow.address)}`);
  });

  it("comes back to an even share once the slow endpoint answers fast again", () => {
    const clock = new FakeClock();
    const policy = new PeakEwmaPolicy<FakeEndpoint>({ ...PEAK_EWMA_DEFAULTS, decayMs: 1000 }, clock);
    const endpoints = fakeEndpoints(4);
    const slow = endpoints[3]!;
    const picker = buildPicker(policy, endpoints);
    for (let t = 0; t < 20; t++) {
      clock.advance(10);
      feed(picker, new Map(endpoints.map((e) => [e, e === slow ? 50 : 2])));
    }
    assert.ok((pickShares(picker, 5000).get(slow.address) ?? 0) < 0.02);
    // Recovered: from now on it answers in 2 ms like the others; calls keep
    // coming for 5 s. Its share is read from the calls of the last 2 s: picks
    // at one frozen instant would all go to whichever estimate is lowest
    // then (P2C), 0 % or 50 %, however close the estimates are.
    let picks = 0;
    let slowPicks = 0;
    for (let t = 0; t < 500; t++) {
      clock.advance(10);
      for (let k = 0; k < 4; k++) {
        const e = picker.pick()!;
        picker.onDone?.(e, ok(2));
        if (t >= 300) {
          picks++;
          if (e === slow) slowPicks++;
        }
      }
    }
    const s = slowPicks / picks;
    assert.ok(s > 0.15, `back to about a quarter: ${s}`);
  });

  it("weighs calls in flight: at equal RTT the less busy endpoint wins", () => {
    const clock = new FakeClock();
    const policy = new PeakEwmaPolicy<FakeEndpoint>(PEAK_EWMA_DEFAULTS, clock);
    const [a, b] = fakeEndpoints(2);
    a!.inFlight = 3;
    const picker = buildPicker(policy, [a!, b!]);
    assert.deepEqual(
      new Set(Array.from({ length: 20 }, () => picker.pick()?.address)),
      new Set([b!.address]),
    );
  });

  it("counts a fast failure as at least failureRttMs (no black hole), ignores cancelled calls", () => {
    const clock = new FakeClock();
    const policy = new PeakEwmaPolicy<FakeEndpoint>(PEAK_EWMA_DEFAULTS, clock);
    const [good, failing] = fakeEndpoints(2);
    const picker = buildPicker(policy, [good!, failing!]);
    picker.onDone?.(good!, ok(5));
    picker.onDone?.(failing!, { latencyMs: 0.1, ok: false, code: Code.Unavailable, trailers: undefined });
    assert.equal(picker.pick(), good, "5 ms success beats a 0.1 ms failure counted as 30 ms");
    picker.onDone?.(good!, { latencyMs: 500, ok: false, code: Code.Canceled, trailers: undefined });
    assert.equal(picker.pick(), good, "a cancelled call leaves the estimate alone");
  });

  it("with one endpoint returns it; with none, the empty picker", () => {
    const policy = new PeakEwmaPolicy<FakeEndpoint>(PEAK_EWMA_DEFAULTS, new FakeClock());
    const [a] = fakeEndpoints(1);
    assert.equal(buildPicker(policy, [a!]).pick(), a);
    assert.equal(buildPicker(policy, []).pick(), undefined);
  });
});
