// The runner end to end on real pods, a real DNS server process and a real
// client process: a short SIGSTOP (it runs everywhere).
import assert from "node:assert/strict";
import { test } from "node:test";
// The runner forks its driver from dist (the built entry), as the CLI does.
import { DRIVERS } from "../dist/drivers.js";
import { runFaultScenarios, SCENARIOS } from "../dist/scenarios.js";
import { measure } from "../src/measure.js";

test("SIGSTOP of one pod: the pool without a deadline waits on it; detection and recovery are measured", async () => {
  const [result] = await runFaultScenarios({
    scenarios: [SCENARIOS.sigstop as NonNullable<(typeof SCENARIOS)["sigstop"]>],
    drivers: [DRIVERS.pool as NonNullable<(typeof DRIVERS)["pool"]>],
    pods: 2,
    inFlight: 8,
    baselineMs: 1000,
    faultMs: 2000,
    recoveryMs: 1500,
  });
  assert.ok(result, "one result");
  assert.equal(result.hung, undefined);
  assert.equal(result.error, undefined);
  const m = result.measurement;
  assert.ok(m);
  assert.ok(m.calls > 100, `calls made (${m.calls})`);
  // No deadline and no keepalive: the calls on the stopped pod wait for the whole fault, and none fails.
  assert.deepEqual(m.failures, {});
  assert.ok(m.longestMs > 1500, `a call waited out the fault (${m.longestMs} ms)`);
  assert.ok(m.throughputRatio < 0.5, `throughput collapsed (${m.throughputRatio})`);
  assert.ok(
    m.recoveryMs !== null && m.recoveryMs < 1500,
    `the pod answered new calls after SIGCONT (${m.recoveryMs})`,
  );
  assert.ok(
    result.maxBeatGapMs !== undefined && result.maxBeatGapMs < 1000,
    "the driver's loop kept turning",
  );
});

test("measure: failures by code, unfinished calls, throughput ratio, detection and recovery", () => {
  const marks = { start: 0, faultStart: 1000, faultEnd: 2000, end: 3000 };
  // Baseline: 10 OK calls (5 on pod 0); fault: 2 OK on pod 1, one UNAVAILABLE, one stuck; recovery: pod 0 at 2300.
  const calls = {
    start: [] as number[],
    duration: [] as number[],
    code: [] as number[],
    pod: [] as number[],
  };
  const add = (start: number, duration: number, code: number, pod: number) => {
    calls.start.push(start);
    calls.duration.push(duration);
    calls.code.push(code);
    calls.pod.push(pod);
  };
  for (let i = 0; i < 10; i++) add(i * 90, 10, 0, i % 2);
  add(1100, 10, 0, 1);
  add(1500, 10, 0, 1);
  add(1200, 50, 14, -1);
  add(1010, Number.NaN, -1, -1);
  add(2300, 5, 0, 0);
  const picks = [[100, 1200, 1300], [500]];
  const m = measure(calls, picks, marks, 0);
  assert.deepEqual(m.failures, { UNAVAILABLE: 1, UNFINISHED: 1 });
  assert.equal(m.longestMs, 1990);
  assert.equal(m.throughputRatio, 2 / 10);
  assert.equal(m.detectionMs, 300);
  assert.equal(m.recoveryMs, 300);
  // A pod picked until the fault's last 500 ms was never detected.
  assert.equal(measure(calls, [[1600]], marks, 0).detectionMs, null);
  assert.equal(measure(calls, picks, marks, undefined).detectionMs, null);
});
