import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runNode } from "@rngbalance/testkit";

const MAIN = fileURLToPath(new URL("../dist/lb/main.js", import.meta.url));

describe("pnpm bench:lb --scenario hedging --quick", () => {
  it("prints p50/p99 with and without hedging, the extra attempts, and the outage budget figures", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-lb-hedging-"));
    try {
      const r = await runNode(
        MAIN,
        [
          "--quick",
          "--pods",
          "3",
          "--concurrency",
          "4",
          "--hedging-rate",
          "100",
          "--scenarios",
          "hedging",
          "--out",
          out,
        ],
        180_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /## Hedging: one pod of 3 with --fault latency:50ms/);
      assert.match(r.stdout, /\| no hedging \| \d+ \| [\d.]+ \| [\d.]+ \|/);
      assert.match(r.stdout, /\| hedging \(delay 10 ms\) \| \d+ \|/);
      assert.match(r.stdout, /\| peak_ewma \+ hedging \(p95 of recent latencies\) \| \d+ \|/);
      const json = JSON.parse(readFileSync(path.join(out, "lb-latest.json"), "utf8"));
      const hedged = json.hedging.tail.find((t: { name: string }) => t.name === "hedging (delay 10 ms)");
      assert.ok(hedged.extraRatio > 0, "the slow pod's calls were hedged");
      const outage = Object.fromEntries(
        json.hedging.outage.map((o: { name: string; extraRatio: number }) => [o.name, o.extraRatio]),
      );
      assert.equal(outage["hedging, no budget"], 4, "without a budget every call makes its 5 attempts");
      assert.ok(
        outage["hedging, default budget"] < 1,
        `the budget holds them: ${outage["hedging, default budget"]}`,
      );
      assert.ok(outage["retryPolicy, default budget"] < 1);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
