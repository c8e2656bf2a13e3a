import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

// biome-ignore lint/suspicious/noExplicitAny: the dashboard is untyped JSON
type Loose = any;
const dashboard: Loose = JSON.parse(
  readFileSync(fileURLToPath(new URL("../grafana/rngbalance-dashboard.json", import.meta.url)), "utf8"),
);

/** Grafana's reference to the dashboard's datasource variable. */
const DATASOURCE = ["$", "{datasource}"].join("");

/**
 * The Grafana dashboard's shape. Whether its metrics exist is checked
 * where the apps run: apps/client/test/prometheus.test.ts scrapes them
 * (and a real Prometheus) and looks up every metric each query reads.
 */
describe("Grafana dashboard (deploy/grafana/rngbalance-dashboard.json)", () => {
  it("has a uid, a Prometheus datasource variable, and panels with unique ids that do not overlap", () => {
    assert.match(dashboard.uid, /^[a-z0-9-]{1,40}$/);
    const ds = dashboard.templating.list.find((v: Loose) => v.type === "datasource");
    assert.equal(ds?.query, "prometheus");
    const ids = dashboard.panels.map((p: Loose) => p.id);
    assert.equal(new Set(ids).size, ids.length, "unique panel ids");
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      assert.ok(x >= 0 && w > 0 && x + w <= 24 && h > 0, `${p.title}: gridPos within 24 columns`);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          assert.ok(!cells.has(`${i},${j}`), `${p.title} overlaps another panel`);
          cells.add(`${i},${j}`);
        }
    }
  });

  it("every panel queries through the datasource variable, with distinct refIds and balanced PromQL", () => {
    for (const p of dashboard.panels) {
      assert.equal(p.datasource?.uid, DATASOURCE, p.title);
      assert.ok(p.targets.length > 0, `${p.title}: no query`);
      const refIds = p.targets.map((t: Loose) => t.refId);
      assert.equal(new Set(refIds).size, refIds.length, `${p.title}: refIds`);
      for (const t of p.targets) {
        assert.equal(t.datasource?.uid, DATASOURCE);
        let depth = 0;
        for (const c of t.expr.replace(/"(?:[^"\\]|\\.)*"/g, "")) {
          depth += "({[".includes(c) ? 1 : ")}]".includes(c) ? -1 : 0;
          assert.ok(depth >= 0, `${p.title}: ${t.expr}`);
        }
        assert.equal(depth, 0, `${p.title}: unbalanced ${t.expr}`);
      }
    }
  });

  it("covers what issue #14 asks for: calls and latency per pod, errors, endpoints, DNS, ejections", () => {
    const exprs = dashboard.panels.flatMap((p: Loose) => p.targets.map((t: Loose) => t.expr)).join("\n");
    for (const metric of [
      "grpc_server_call_duration_seconds_count",
      "grpc_server_call_duration_seconds_bucket",
      "rngbalance_pool_picks_total",
      "grpc_client_call_duration_seconds_count",
      "rngbalance_pool_endpoints",
      "rngbalance_pool_resolutions_total",
      // gRFC A91 as merged, by detection method (the draft's per-method counters are gone).
      "grpc_lb_outlier_detection_ejections_enforced_total",
      "grpc_lb_outlier_detection_detection_method",
    ]) {
      assert.ok(exprs.includes(metric), metric);
    }
  });
});
