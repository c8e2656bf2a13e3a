/**
 * The panic threshold with real rng-server processes on loopback pod IPs,
 * a real DNS server and real health checks (grpc.health.v1 Watch): 6 of 9
 * pods report NOT_SERVING. Each scenario prints its spread.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createPoolTransport, METRIC, type PanicEvent } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngFleet, startRngFleet } from "@rngbalance/rng-fleet";
import { collect, testMeter } from "@rngbalance/testkit/metrics";
import { countBy, until } from "./support.js";

/** 3 serving pods and 6 NOT_SERVING ones (they answer calls; health says no). */
async function sickFleet(): Promise<{ fleet: RngFleet; sick: Set<bigint> }> {
  const fleet = await startRngFleet({ replicas: 3 });
  try {
    const sick = await Promise.all(
      Array.from({ length: 6 }, () => fleet.addServer(["--fault", "not-serving"])),
    );
    return { fleet, sick: new Set(sick.map((s) => s.rn)) };
  } catch (err) {
    await fleet.close();
    throw err;
  }
}

/** `n` calls, 8 at a time; how many each instance answered. */
async function spread(pool: ReturnType<typeof createPoolTransport>, n: number): Promise<Map<bigint, number>> {
  const client = createClient(Rng, pool);
  const answers: bigint[] = [];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (answers.length < n) answers.push((await client.rng({}, { timeoutMs: 5000 })).RN);
    }),
  );
  return countBy(answers);
}

describe("panic threshold (real servers, real health checks)", () => {
  it("6 of 9 pods NOT_SERVING: below 50 % healthy, calls spread over all 9; off, the 3 healthy take them all", async () => {
    const { fleet, sick } = await sickFleet();
    const meter = testMeter();
    const offMeter = testMeter();
    const panicking = createPoolTransport({
      target: fleet.target,
      connect: "eager",
      telemetry: { meterProvider: meter.provider },
    });
    const off = createPoolTransport({
      target: fleet.target,
      connect: "eager",
      panicThresholdPercent: 0,
      telemetry: { meterProvider: offMeter.provider },
    });
    /** The pool's panic gauge and its panics counter, as an exporter reads them. */
    const panicMetrics = async (reader: typeof meter.reader) => {
      const m = await collect(reader);
      return {
        gauge: m.get(METRIC.panic)?.points.map((p) => p.value),
        entered: m.get(METRIC.panics)?.points.map((p) => p.value),
      };
    };
    const events: PanicEvent[] = [];
    panicking.on("panic", (e) => events.push(e));
    try {
      const settled = (pool: typeof panicking) => () =>
        pool.stats().endpoints.filter((e) => e.health === "NOT_SERVING").length === 6 &&
        pool.stats().endpoints.filter((e) => e.state === "READY").length === 3;
      await until(settled(off), 10_000, "health answers (off)");
      await until(() => panicking.stats().panic, 10_000, "panic");
      // Entered as soon as the first NOT_SERVING answer came (healthy 0-3 of 9 then), once.
      assert.equal(events.length, 1);
      assert.equal(events[0]?.panic, true);
      assert.equal(events[0]?.total, 9);
      assert.equal(panicking.stats().panicsEntered, 1);
      assert.deepEqual(await panicMetrics(meter.reader), { gauge: [1], entered: [1] });
      assert.deepEqual(await panicMetrics(offMeter.reader), { gauge: [0], entered: [0] });
      const inPanic = await spread(panicking, 900);
      const withoutPanic = await spread(off, 900);
      const toSick = (counts: Map<bigint, number>) =>
        [...counts].filter(([rn]) => sick.has(rn)).reduce((sum, [, c]) => sum + c, 0);
      console.log(
        `panic threshold, 6 of 9 NOT_SERVING, 900 calls: 50 % -> ${inPanic.size} pods answered (max ${Math.max(...inPanic.values())} on one, ${toSick(inPanic)} on NOT_SERVING ones); 0 (off) -> ${withoutPanic.size} pods (max ${Math.max(...withoutPanic.values())} on one)`,
      );
      assert.equal(inPanic.size, 9, "every pod answered in panic");
      assert.ok(Math.max(...inPanic.values()) <= 150, "round robin: about 100 each");
      assert.equal(withoutPanic.size, 3, "off: only the healthy ones");
      assert.equal(toSick(withoutPanic), 0);
      // Scale the sick ones down to 2: 3 of 5 healthy (60 %); the panic ends at 3 of 6 at the latest.
      for (const s of fleet.servers.filter((p) => sick.has(p.rn)).slice(0, 4)) await fleet.removeServer(s);
      await until(() => !panicking.stats().panic, 10_000, "panic ends");
      const left = events.at(-1);
      assert.equal(left?.panic, false);
      assert.equal(left?.healthy, 3);
      assert.ok(left.total <= 6, `3 healthy of ${left.total} is at least 50 %`);
      // Removing pods may tip it in and out again on the way: the counter matches stats, the gauge is 0.
      const ended = await panicMetrics(meter.reader);
      assert.deepEqual(ended.gauge, [0]);
      assert.deepEqual(ended.entered, [panicking.stats().panicsEntered]);
      assert.ok((ended.entered?.[0] ?? 0) >= 1);
      const after = await spread(panicking, 300);
      assert.equal(after.size, 3, "back to the healthy ones only");
    } finally {
      await panicking.close();
      await off.close();
      await fleet.close();
    }
  });
});
