import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runNode } from "@rngbalance/testkit";

const MAIN = fileURLToPath(new URL("../dist/lb/main.js", import.meta.url));

describe("pnpm bench:lb --scenario ring_hash --quick", () => {
  it("runs the ring_hash scenario alone, prints its table and writes its figures", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-lb-ring-"));
    try {
      const r = await runNode(
        MAIN,
        [
          "--quick",
          "--scenario",
          "ring_hash",
          "--ring-pods",
          "4",
          "--ring-concurrency",
          "20",
          "--ring-keys",
          "100",
          "--out",
          out,
        ],
        120_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /## ring_hash: 4 pods, 20 in flight/);
      assert.doesNotMatch(r.stdout, /One pod with --fault/, "the other scenarios do not run");
      const json = JSON.parse(readFileSync(path.join(out, "lb-latest.json"), "utf8"));
      const f = json.ringHash;
      // Plain ring_hash with stable membership: every call on its key's pod.
      assert.equal(f.stickiness, 1);
      // A fourth pod takes about a quarter of the keys, all to itself.
      assert.ok(f.moved > 0 && f.moved < 0.5, `moved ${f.moved}`);
      assert.equal(f.movedToNew, 1);
      assert.ok(f.boundedInFlightMaxOverMean > 0 && f.plainInFlightMaxOverMean > 0);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
