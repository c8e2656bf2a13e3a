/**
 * The workspace patches @opentelemetry/sdk-metrics 3.1.1's `hashAttributes`
 * (patches/@opentelemetry__sdk-metrics@3.1.1.patch, the approach of
 * open-telemetry/opentelemetry-js#6515, which 3.1.1 does not have yet): the
 * SDK hashes a record's attributes on every record, and the stock sort +
 * map + JSON.stringify was most of what gRPC's metrics cost a call. These
 * tests check that the patch is applied to both module formats the SDK
 * ships, and that the SDK still keeps one series per attribute set.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Attributes } from "@opentelemetry/api";
import { collect, testMeter } from "@rngbalance/testkit/metrics";
import { sdkAttributeHashes } from "../src/index.js";

/** Histogram "h"'s series, each its attributes and count. */
async function seriesOfH(
  reader: Parameters<typeof collect>[0],
): Promise<{ attributes: Attributes; count: number }[]> {
  const points = (await collect(reader)).get("h")?.points ?? [];
  return points.map((p) => ({ attributes: p.attributes, count: (p.value as { count: number }).count }));
}

/** Records 1 once per attribute set, and returns the collected series' attributes and counts. */
async function seriesOf(sets: Attributes[]): Promise<{ attributes: Attributes; count: number }[]> {
  const { provider, reader } = testMeter();
  const histogram = provider.getMeter("test").createHistogram("h");
  for (const attributes of sets) histogram.record(1, attributes);
  const series = await seriesOfH(reader);
  await provider.shutdown();
  return series;
}

describe("the SDK's attribute hash (patched)", () => {
  it("is the patched one in every module format: pnpm install applied patches/@opentelemetry__sdk-metrics@3.1.1.patch", async () => {
    const hashes = await sdkAttributeHashes();
    assert.deepEqual(
      hashes.map((h) => h.format),
      ["esm", "cjs"],
    );
    for (const { format, path, hashAttributes } of hashes) {
      assert.equal(
        hashAttributes({ b: 2, a: "x" }),
        "1:as1:x1:bj2;",
        `the stock hash is in ${path} (${format}): run pnpm install (patchedDependencies in pnpm-workspace.yaml)`,
      );
    }
  });

  it("one series per attribute set, whatever the key order", async () => {
    const series = await seriesOf([
      { "grpc.method": "rng.Rng/Rng", "grpc.target": "dns:///rng:8081", "grpc.status": "OK" },
      { "grpc.status": "OK", "grpc.method": "rng.Rng/Rng", "grpc.target": "dns:///rng:8081" },
      { "grpc.target": "dns:///rng:8081", "grpc.status": "OK", "grpc.method": "rng.Rng/Rng" },
      {},
      {},
    ]);
    assert.deepEqual(
      series.map((s) => s.count),
      [3, 2],
    );
  });

  it("an attributes object recorded again after a change is hashed anew (the patch caches by object)", async () => {
    const a: Record<string, string | number | string[]> = { "grpc.method": "m", "grpc.status": "OK" };
    const { provider, reader } = testMeter();
    const histogram = provider.getMeter("test").createHistogram("h");
    const snapshots: string[] = [];
    const step = () => {
      histogram.record(1, a);
      snapshots.push(JSON.stringify(a));
    };
    step(); // the set itself
    step(); // unchanged: same series
    a["grpc.status"] = "UNAVAILABLE"; // a value changed
    step();
    a["grpc.target"] = "dns:///x"; // a key added
    step();
    delete a["grpc.method"]; // a key removed
    step();
    a.n = 1; // a number, then another
    step();
    a.n = 2;
    step();
    a.list = ["x"]; // an array value: not cached, mutated in place
    step();
    (a.list as string[]).push("y");
    step();
    histogram.record(1, { "grpc.method": "m", "grpc.status": "OK" }); // another object with the first set
    const series = await seriesOfH(reader);
    await provider.shutdown();
    // The SDK keeps the first object of each series for its attributes, and
    // that object changed: count the series by their counts instead.
    assert.deepEqual(
      series.map((p) => p.count),
      [3, 1, 1, 1, 1, 1, 1, 1],
      "one series per distinct set: the first set 3 times (twice, then a copy), every change a new one",
    );
    assert.equal(new Set(snapshots).size, 8, "8 distinct sets were recorded");
  });

  it("distinct attribute sets stay distinct series, even when their text runs together", async () => {
    const sets: Attributes[] = [
      { a: "b:c" },
      { "a:b": "c" },
      { a: "1" },
      { a: 1 },
      { a: true },
      { a: "true" },
      { a: ["x", "y"] },
      { a: '["x","y"]' },
      { a: "x", b: "y" },
      { a: "x1:bs1:y" },
      { a: "" },
      { "": "a" },
      { a: [1, 2] },
      { a: ["1", "2"] },
    ];
    const series = await seriesOf(sets);
    assert.equal(series.length, sets.length, "one series each");
    for (const s of series) assert.equal(s.count, 1);
    assert.deepEqual(
      new Set(series.map((s) => JSON.stringify(s.attributes))),
      new Set(sets.map((a) => JSON.stringify(a))),
      "each series keeps its own attributes",
    );
  });
});
