import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeBinaryHeader } from "@connectrpc/connect";
import { OrcaLoadReportSchema } from "@rngbalance/grpc-protos/xds/data/orca/v3";
import { EdfScheduler } from "../../src/balancer/edf-scheduler.js";
import { ORCA_TRAILER, readOrcaReport } from "../../src/balancer/orca.js";
import type { CallResult } from "../../src/balancer/picker.js";
import {
  WEIGHTED_ROUND_ROBIN_DEFAULTS as D,
  EndpointWeight,
  WeightedRoundRobinPolicy,
} from "../../src/balancer/weighted-round-robin.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import {
  buildPicker,
  FakeClock,
  type FakeEndpoint,
  fakeEndpoints,
  pickShares,
} from "../../src/testing/index.js";

type Load = { qps: number; cpu?: number; app?: number; eps?: number };
const trailers = (l: Load) =>
  new Headers({
    [ORCA_TRAILER]: encodeBinaryHeader(
      toBinary(
        OrcaLoadReportSchema,
        create(OrcaLoadReportSchema, {
          rpsFractional: l.qps,
          cpuUtilization: l.cpu ?? 0,
          applicationUtilization: l.app ?? 0,
          eps: l.eps ?? 0,
        }),
      ),
    ),
  });
const done = (t: Headers | undefined): CallResult => ({
  latencyMs: 1,
  ok: true,
  code: undefined,
  trailers: t,
});

describe("EdfScheduler", () => {
  it("picks each entry in proportion to its weight, within one pick over any full period", () => {
    const s = new EdfScheduler([1, 2, 3, 4], () => 0.5);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) counts[s.pick()]!++;
    for (const [i, c] of counts.entries()) assert.ok(Math.abs(c - 100 * (i + 1)) <= 1, `entry ${i}: ${c}`);
  });

  it("with equal weights is a rotation", () => {
    const s = new EdfScheduler([1, 1, 1], () => 0);
    assert.deepEqual(
      Array.from({ length: 6 }, () => s.pick()),
      [0, 1, 2, 0, 1, 2],
    );
  });
});

describe("EndpointWeight (A58)", () => {
  it("qps / utilization with the error penalty; application_utilization before cpu_utilization", () => {
    const w = new EndpointWeight(0);
    const report = readOrcaReport(trailers({ qps: 100, cpu: 0.5 }))!;
    assert.ok(w.update(report, 0, 1));
    assert.equal(w.weight, 200);
    w.update(readOrcaReport(trailers({ qps: 100, cpu: 0.9, app: 0.25 }))!, 0, 1);
    assert.equal(w.weight, 400, "application_utilization wins when > 0");
    w.update(readOrcaReport(trailers({ qps: 100, cpu: 0.5, eps: 50 }))!, 0, 1);
    assert.equal(w.weight, 100, "100 / (0.5 + 50/100 × 1)");
    assert.equal(w.update(readOrcaReport(trailers({ qps: 0, cpu: 0.5 }))!, 0, 1), false, "no qps: ignored");
    assert.equal(w.weight, 100);
  });

  it("blackout after the first report and after expiry; expiry drops the weight", () => {
    const w = new EndpointWeight(0);
    const cfg = D;
    w.update(readOrcaReport(trailers({ qps: 10, cpu: 0.5 }))!, 1000, 1);
    assert.equal(w.get(5000, cfg), 0, "in blackout");
    assert.equal(w.get(11_000, cfg), 20);
    assert.equal(w.get(1000 + 180_000, cfg), 0, "expired");
    w.update(readOrcaReport(trailers({ qps: 10, cpu: 0.5 }))!, 200_000, 1);
    assert.equal(w.get(205_000, cfg), 0, "new blackout after expiry");
    assert.equal(w.get(210_000, cfg), 20);
  });
});

describe("weighted_round_robin policy", () => {
  const cfg = { ...D, blackoutPeriodMs: 0 };

  it("shifts calls off an endpoint that reports high utilization for its qps", () => {
    const clock = new FakeClock();
    const policy = new WeightedRoundRobinPolicy<FakeEndpoint>(cfg, clock);
    const endpoints = fakeEndpoints(4);
    const loaded = endpoints[3]!;
    const picker = buildPicker(policy, endpoints);
    for (const e of endpoints)
      picker.onDone?.(e, done(trailers({ qps: 100, cpu: e === loaded ? 0.8 : 0.2 })));
    clock.advance(1000);
    const s = pickShares(picker, 13_000);
    // Weights 500, 500, 500, 125: the loaded one gets 125/1625 ≈ 7.7 %.
    assert.ok(Math.abs((s.get(loaded.address) ?? 0) - 125 / 1625) < 0.01, `loaded: ${s.get(loaded.address)}`);
    assert.equal(policy.reports.used, 4);
    assert.equal(policy.weightOf(loaded), 125);
  });

  it("falls back to round robin with missing, malformed or unusable reports", () => {
    const clock = new FakeClock();
    const policy = new WeightedRoundRobinPolicy<FakeEndpoint>(cfg, clock);
    const endpoints = fakeEndpoints(4);
    const picker = buildPicker(policy, endpoints);
    picker.onDone?.(endpoints[0]!, done(undefined));
    picker.onDone?.(endpoints[1]!, done(new Headers({ [ORCA_TRAILER]: "!!not base64 protobuf!!" })));
    picker.onDone?.(endpoints[2]!, done(new Headers({ [ORCA_TRAILER]: "AQID" })));
    picker.onDone?.(endpoints[3]!, done(trailers({ qps: 0, cpu: 0 })));
    clock.advance(1000);
    const s = pickShares(picker, 4000);
    for (const e of endpoints) assert.equal(s.get(e.address), 0.25, `${e.address} gets a quarter`);
    assert.equal(policy.reports.used, 0);
  });

  it("with one weighted endpoint is still plain round robin (A58: fewer than two)", () => {
    const clock = new FakeClock();
    const policy = new WeightedRoundRobinPolicy<FakeEndpoint>(cfg, clock);
    const endpoints = fakeEndpoints(3);
    const picker = buildPicker(policy, endpoints);
    picker.onDone?.(endpoints[0]!, done(trailers({ qps: 1000, cpu: 0.01 })));
    clock.advance(1000);
    const s = pickShares(picker, 3000);
    for (const e of endpoints) assert.ok(Math.abs((s.get(e.address) ?? 0) - 1 / 3) < 0.001);
  });

  it("uses weights only after the blackout period, and restarts it when an endpoint reconnects", () => {
    const clock = new FakeClock();
    const policy = new WeightedRoundRobinPolicy<FakeEndpoint>(D, clock);
    const endpoints = fakeEndpoints(2);
    let picker = buildPicker(policy, endpoints);
    const report = (e: FakeEndpoint, cpu: number) => picker.onDone?.(e, done(trailers({ qps: 100, cpu })));
    report(endpoints[0]!, 0.1);
    report(endpoints[1]!, 0.9);
    clock.advance(5000);
    assert.equal(pickShares(picker, 1000).get(endpoints[1]!.address), 0.5, "in blackout: equal");
    report(endpoints[0]!, 0.1);
    report(endpoints[1]!, 0.9);
    clock.advance(6000);
    assert.ok((pickShares(picker, 1000).get(endpoints[1]!.address) ?? 0) < 0.15, "after 10 s: weighted");
    endpoints[1]!.state = S.TRANSIENT_FAILURE;
    buildPicker(policy, endpoints);
    endpoints[1]!.state = S.READY;
    picker = buildPicker(policy, endpoints);
    report(endpoints[0]!, 0.1);
    report(endpoints[1]!, 0.9);
    assert.equal(policy.weightOf(endpoints[1]!), 0, "reconnected: blackout again");
  });

  it("keeps the weight of an endpoint left out of a picker while READY (liveness doubting it for a moment)", () => {
    const clock = new FakeClock();
    const policy = new WeightedRoundRobinPolicy<FakeEndpoint>(D, clock);
    const endpoints = fakeEndpoints(2);
    let picker = policy.buildPicker(endpoints, endpoints);
    const report = (e: FakeEndpoint, cpu: number) => picker.onDone?.(e, done(trailers({ qps: 100, cpu })));
    report(endpoints[0]!, 0.1);
    report(endpoints[1]!, 0.9);
    clock.advance(11_000);
    report(endpoints[0]!, 0.1);
    report(endpoints[1]!, 0.9);
    const weighted = policy.weightOf(endpoints[1]!);
    assert.ok(weighted > 0, "out of blackout");
    // Doubted (READY, but not pickable), then trusted again: not a reconnect.
    policy.buildPicker([endpoints[0]!], endpoints);
    picker = policy.buildPicker(endpoints, endpoints);
    assert.equal(policy.weightOf(endpoints[1]!), weighted, "no new blackout");
    assert.ok((pickShares(picker, 1000).get(endpoints[1]!.address) ?? 0) < 0.15, "still weighted");
  });
});
