import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EjectionEvent } from "../../src/core/events.js";
import {
  emptySweepStats,
  newOutlierRecord,
  type OutlierDetectionOptions,
  sweepOutlierRecords as sweepOutliers,
} from "../../src/health/outlier-detection.js";
import { OutlierDetector } from "../../src/health/outlier-detector.js";
import { FakeClock, fakeEndpoints } from "../../src/testing/index.js";

const options: OutlierDetectionOptions = {
  intervalMs: 1000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 50,
  failurePercentage: { threshold: 85, minimumHosts: 3, requestVolume: 20 },
  successRate: false,
  failureCodes: [Code.Unavailable, Code.Internal],
};

/** `n` detector records, as the detector keeps one per endpoint. */
function outlierRecords(n: number) {
  return Array.from({ length: n }, newOutlierRecord);
}

function outcomes(e: { intervalSuccesses: number; intervalFailures: number }, ok: number, failed: number) {
  e.intervalSuccesses = ok;
  e.intervalFailures = failed;
}

describe("sweepOutliers (gRFC A50)", () => {
  it("ejects by failure percentage, then lets the endpoint back in when its time is up", () => {
    const [a, b, c] = outlierRecords(3);
    outcomes(a!, 0, 30);
    outcomes(b!, 30, 0);
    outcomes(c!, 30, 0);
    assert.equal(sweepOutliers([a!, b!, c!], options, 1000), true);
    assert.equal(a!.ejectedUntil, 31_000);
    assert.equal(a!.intervalFailures, 0, "counters reset every sweep");
    assert.equal(sweepOutliers([a!, b!, c!], options, 30_999), false);
    assert.equal(sweepOutliers([a!, b!, c!], options, 31_000), true);
    assert.equal(a!.ejectedUntil, 0);
  });

  it("needs minimumHosts endpoints with requestVolume calls", () => {
    const [a, b, c] = outlierRecords(3);
    outcomes(a!, 0, 30);
    outcomes(b!, 30, 0);
    outcomes(c!, 5, 0); // below requestVolume: only 2 judged
    assert.equal(sweepOutliers([a!, b!, c!], options, 0), false);
  });

  it("never ejects beyond maxEjectionPercent, but always allows one; counts the others as unenforced (A91)", () => {
    const endpoints = outlierRecords(4);
    for (const e of endpoints.slice(0, 3)) outcomes(e, 0, 30);
    outcomes(endpoints[3]!, 30, 0);
    const stats = emptySweepStats();
    sweepOutliers(endpoints, { ...options, maxEjectionPercent: 10 }, 0, stats);
    assert.equal(endpoints.filter((e) => e.ejectedUntil !== 0).length, 1);
    assert.deepEqual(stats.enforced, { success_rate: 0, failure_percentage: 1 });
    assert.deepEqual(stats.unenforced.failure_percentage, {
      enforcement_percentage: 0,
      max_ejection_overflow: 2,
    });
  });

  it("ejects an outlier with a chance of enforcementPercentage; the rest are unenforced (A91)", () => {
    const endpoints = outlierRecords(4);
    for (const e of endpoints.slice(0, 2)) outcomes(e, 0, 30);
    for (const e of endpoints.slice(2)) outcomes(e, 30, 0);
    const o = {
      ...options,
      maxEjectionPercent: 100,
      failurePercentage: { threshold: 85, minimumHosts: 3, requestVolume: 20, enforcementPercentage: 40 },
    };
    // Draws of 0.1 (10 < 40: eject) then 0.9 (90 >= 40: leave in).
    const draws = [0.1, 0.9];
    const stats = emptySweepStats();
    sweepOutliers(endpoints, o, 0, stats, () => draws.shift() ?? 0);
    assert.deepEqual(
      endpoints.map((e) => e.ejectedUntil !== 0),
      [true, false, false, false],
    );
    assert.deepEqual(stats.enforced, { success_rate: 0, failure_percentage: 1 });
    assert.deepEqual(stats.unenforced.failure_percentage, {
      enforcement_percentage: 1,
      max_ejection_overflow: 0,
    });
    assert.equal(draws.length, 0, "one draw per outlier");
  });

  it("ejects by success rate below mean - stdevFactor x stdev", () => {
    const endpoints = outlierRecords(6);
    for (const e of endpoints) outcomes(e, 100, 0);
    outcomes(endpoints[0]!, 50, 50);
    const o = {
      ...options,
      failurePercentage: false as const,
      successRate: { stdevFactor: 1.9, minimumHosts: 5, requestVolume: 100 },
    };
    const stats = emptySweepStats();
    sweepOutliers(endpoints, o, 0, stats);
    assert.deepEqual(
      endpoints.map((e) => e.ejectedUntil !== 0),
      [true, false, false, false, false, false],
    );
    assert.deepEqual(stats.enforced, { success_rate: 1, failure_percentage: 0 });
  });

  it("grows the ejection time with repeat offences, up to the max", () => {
    const [a, b, c] = outlierRecords(3);
    const o = { ...options, maxEjectionTimeMs: 50_000 };
    let now = 0;
    const offend = () => {
      outcomes(a!, 0, 30);
      outcomes(b!, 30, 0);
      outcomes(c!, 30, 0);
      sweepOutliers([a!, b!, c!], o, now);
    };
    offend();
    assert.equal(a!.ejectedUntil - now, 30_000);
    // The sweep that lets it back in judges its new interval at once: ejected again, for longer.
    now = a!.ejectedUntil;
    offend();
    assert.equal(a!.ejectedUntil - now, 50_000, "2 x 30 s capped at 50 s");
  });
});

describe("OutlierDetector", () => {
  it("counts outcomes by failure code, sweeps on its (unref'd) timer and reports ejections", () => {
    const clock = new FakeClock(0);
    const endpoints = fakeEndpoints(3);
    const events: EjectionEvent[] = [];
    let changes = 0;
    for (const e of endpoints) e.onChange = () => changes++;
    const od = new OutlierDetector(options, clock, { endpoints }, { onEjection: (e) => events.push(e) });
    assert.equal(clock.pending, 1);
    assert.equal(clock.pendingRefd, 0, "a sweep timer never keeps the process alive");
    const [a, b, c] = endpoints;
    for (let i = 0; i < 30; i++) {
      od.record(a!, new ConnectError("x", Code.Unavailable));
      od.record(b!, undefined);
      od.record(c!, new ConnectError("not a failure code", Code.NotFound));
    }
    assert.equal(od.recordOf(a!).intervalFailures, 30);
    assert.equal(od.recordOf(c!).intervalSuccesses, 30);
    clock.advance(1000);
    assert.deepEqual(events, [{ address: "10.0.0.1:80", ejected: true, untilMs: 30_000 }]);
    assert.equal(changes, 1);
    clock.advance(30_000);
    assert.deepEqual(events[1], { address: "10.0.0.1:80", ejected: false, untilMs: undefined });
    od.stop();
    assert.equal(clock.pending, 0);
  });
});
