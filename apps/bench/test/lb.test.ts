import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runNode } from "@rngbalance/testkit";

const MAIN = fileURLToPath(new URL("../dist/lb/main.js", import.meta.url));

describe("pnpm bench:lb --quick", () => {
  it("runs the slow-pod and scale-up scenarios, prints the tables and writes lb-latest.{md,json}", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-lb-"));
    try {
      const r = await runNode(
        MAIN,
        ["--quick", "--pods", "3", "--concurrency", "4", "--scenarios", "latency,scale", "--out", out],
        120_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /## One pod with --fault latency:50ms/);
      for (const policy of ["round_robin", "least_request", "peak_ewma", "weighted_round_robin"]) {
        assert.match(r.stdout, new RegExp(`\\| ${policy} \\| \\d+ \\| [\\d.]+ % \\|`), policy);
      }
      assert.match(r.stdout, /\| slow start on \|/);
      const json = JSON.parse(readFileSync(path.join(out, "lb-latest.json"), "utf8"));
      assert.equal(json.latency.length, 4);
      assert.ok(json.latency.every((p: { errors: number }) => p.errors === 0));
      assert.match(readFileSync(path.join(out, "lb-latest.md"), "utf8"), /bad pod's share/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("runs the zone scenario: zone a keeps its calls while healthy, spills in proportion when short, skips draining pods", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-lb-zone-"));
    try {
      const r = await runNode(
        MAIN,
        ["--quick", "--concurrency", "6", "--scenario", "zone", "--out", out],
        120_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /## Zone-aware routing: 3 zones × 3 pods/);
      const json = JSON.parse(readFileSync(path.join(out, "lb-latest.json"), "utf8"));
      type Phase = {
        name: string;
        pods: number;
        calls: number;
        leavingA: number;
        localVsMean: number;
        terminatingCalls: number;
        errors: number;
      };
      const [healthy, gone, saturated, oneDraining, allDraining, blind] = json.zone as Phase[];
      assert.equal(json.zone.length, 6);
      assert.ok((json.zone as Phase[]).every((p) => p.errors === 0));
      assert.ok(
        healthy && healthy.leavingA <= 0.05,
        `healthy: ${healthy?.leavingA} of zone a's calls left it`,
      );
      // Envoy's rule keeps 3/7 in zone a: about 4/7 leave.
      assert.ok(
        gone && gone.pods === 7 && gone.leavingA > 0.35 && gone.leavingA < 0.8,
        `gone: ${gone?.leavingA}`,
      );
      assert.ok(gone.localVsMean <= 1.2, `zone a's last pod at ${gone.localVsMean}x the mean`);
      assert.ok(saturated && saturated.localVsMean <= 1.2);
      assert.equal(oneDraining?.terminatingCalls, 0, "a terminating pod got calls while others were READY");
      assert.ok(allDraining && allDraining.terminatingCalls === allDraining.calls && allDraining.calls > 0);
      assert.match(blind?.name ?? "", /ORCA ignored/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("--scenario a105 runs connection scaling alone: the limited pod with scaling near the unlimited one, without it far below", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-lb-"));
    try {
      const r = await runNode(MAIN, ["--quick", "--scenario", "a105", "--out", out], 120_000);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /## Connection scaling \(gRFC A105\)/);
      assert.doesNotMatch(r.stdout, /## One pod with/, "the other scenarios did not run");
      const rows = JSON.parse(readFileSync(path.join(out, "lb-latest.json"), "utf8")).a105 as {
        callsPerSecond: number;
        connectionsOpened: number;
        errors: number;
      }[];
      const [open, scaled, single] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
      assert.ok(rows.every((x) => x.errors === 0));
      assert.equal(open.connectionsOpened, 1);
      assert.ok(scaled.connectionsOpened >= 10, `${scaled.connectionsOpened} connections`);
      assert.equal(single.connectionsOpened, 1);
      // Loose bounds for a --quick run on a shared machine; the figures come from a full run.
      assert.ok(scaled.callsPerSecond > 0.7 * open.callsPerSecond, JSON.stringify(rows));
      assert.ok(single.callsPerSecond < 0.5 * open.callsPerSecond, JSON.stringify(rows));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("runs the panic and Happy Eyeballs scenarios (the latter says why when it cannot blackhole)", async () => {
    const out = mkdtempSync(path.join(tmpdir(), "bench-lb-"));
    try {
      const r = await runNode(
        MAIN,
        ["--quick", "--concurrency", "4", "--scenarios", "panic,eyeballs", "--out", out],
        120_000,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /## Panic threshold: 6 of 9 pods NOT_SERVING/);
      const json = JSON.parse(readFileSync(path.join(out, "lb-latest.json"), "utf8"));
      const [on, off] = json.panic as { podsAnswering: number; panic: boolean; errors: number }[];
      assert.deepEqual([on?.panic, on?.podsAnswering], [true, 9], "in panic every pod answers");
      assert.deepEqual([off?.panic, off?.podsAnswering], [false, 3], "off: the 3 serving pods");
      assert.equal(on?.errors, 0);
      assert.match(r.stdout, /## Happy Eyeballs \(pick_first\)/);
      if (json.happyEyeballs.ok === false) {
        assert.match(r.stdout, /skipped: /);
      } else {
        const [staggered] = json.happyEyeballs.byDelayMs["250"] as number[];
        const [serial] = json.happyEyeballs.byDelayMs["0"] as number[];
        assert.ok(staggered !== undefined && staggered < 1500, `with the stagger: ${staggered} ms`);
        assert.ok(serial !== undefined && serial >= 2900, `without: the connect timeout, ${serial} ms`);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("rejects a bad flag with exit 2", async () => {
    const r = await runNode(MAIN, ["--policies", "random"], 30_000);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--policies: must be a comma-separated list of round_robin/);
  });
});
