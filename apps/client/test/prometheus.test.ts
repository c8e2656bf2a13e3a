import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import type { Summary } from "../src/summary.js";
import { dashboardMetricNames, exportedNames } from "./dashboard.js";
import { startClient } from "./helpers.js";
import {
  findOrInstallPrometheus,
  type Prometheus,
  prometheusVersion,
  startPrometheus,
} from "./prometheus.js";

const DASHBOARD = fileURLToPath(
  new URL("../../../deploy/grafana/rngbalance-dashboard.json", import.meta.url),
);
const CALLS = 1500;

/**
 * A run as in production, scraped by a real Prometheus: 3 rng-servers (the
 * third with --fault unavailable) and a 4th address where nothing listens,
 * rng-client with --metrics-addr, each scraped every second. What
 * Prometheus stores must agree with what the client says it did.
 */
describe("Prometheus scrapes rng-server and rng-client during a run", () => {
  const found = findOrInstallPrometheus();
  const servers: RngServerProcess[] = [];
  const metricsOf = new Map<string, string>();
  let prometheus: Prometheus | undefined;
  let summary: Summary | undefined;
  let clientMetrics = "";
  let target = "";
  let stopClient: (() => Promise<unknown>) | undefined;

  before(async () => {
    for (const [host, fault] of [
      ["127.0.0.2", "none"],
      ["127.0.0.3", "none"],
      ["127.0.0.4", "unavailable"],
    ] as const) {
      const server = await spawnRngServer({ host, args: ["--metrics-addr", `${host}:0`, "--fault", fault] });
      servers.push(server);
      const line = server.logs.find((l) => l.msg === "metrics");
      metricsOf.set(server.address, String(line?.address));
    }
    const dead = `127.0.0.5:${await freePort("127.0.0.5")}`;
    target = `ipv4:${[...servers.map((s) => s.address), dead].join(",")}`;
    clientMetrics = `127.0.0.1:${await freePort()}`;
    if (!("skip" in found)) {
      prometheus = await startPrometheus(found.binary, {
        "rng-server": [...metricsOf.values()],
        "rng-client": [clientMetrics],
      });
    }
    const client = startClient([
      "--target",
      target,
      "--count",
      String(CALLS),
      "--concurrency",
      "4",
      "--interval",
      "10ms",
      "--json",
      "--metrics-addr",
      clientMetrics,
      "--metrics-linger",
      "60s",
    ]);
    stopClient = () => client.stop("SIGINT");
    await client.waitForLines(/^\{"summary"/, 1, 120_000);
    const line = client
      .stdout()
      .split("\n")
      .find((l) => l.startsWith('{"summary"'));
    summary = (JSON.parse(line ?? "{}") as { summary: Summary }).summary;
  });

  after(async () => {
    await stopClient?.();
    await prometheus?.stop();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it("the client's totals, calls per pod and errors by status agree with Prometheus", async (t) => {
    if ("skip" in found) {
      t.skip(found.skip);
      return;
    }
    t.diagnostic(prometheusVersion(found.binary));
    assert.ok(prometheus && summary);
    assert.equal(summary.total.calls, CALLS);
    const byAddress = Object.fromEntries(summary.endpoints.map((r) => [r.address, r]));
    const expected = {
      total: CALLS,
      perPod: Object.fromEntries(summary.endpoints.map((r) => [r.address, r.calls])),
      errors: summary.errorsByCode,
      serverPerPod: Object.fromEntries(servers.map((s) => [s.address, byAddress[s.address]?.calls ?? 0])),
      serverErrors: Object.fromEntries(servers.map((s) => [s.address, byAddress[s.address]?.errors ?? 0])),
    };
    const p = prometheus;
    const instanceToPod = new Map([...metricsOf].map(([pod, metrics]) => [metrics, pod]));
    const observe = async () => {
      const vector = async (q: string, label: string, map = (v: string) => v) =>
        Object.fromEntries((await p.query(q)).map((r) => [map(r.labels[label] ?? ""), r.value]));
      const rng = 'grpc_method="rng.Rng/Rng"';
      const toPod = (i: string) => instanceToPod.get(i) ?? i;
      return {
        total: (await p.query(`sum(grpc_client_call_duration_seconds_count{job="rng-client",${rng}})`))[0]
          ?.value,
        perPod: await vector(
          // The summary lists the addresses picked; the dead one never was.
          "sum by (rngbalance_endpoint) (rngbalance_pool_picks_total) > 0",
          "rngbalance_endpoint",
        ),
        errors: await vector(
          `sum by (grpc_status) (grpc_client_call_duration_seconds_count{${rng},grpc_status!="OK"})`,
          "grpc_status",
        ),
        serverPerPod: await vector(
          `sum by (instance) (grpc_server_call_duration_seconds_count{${rng}})`,
          "instance",
          toPod,
        ),
        serverErrors: {
          ...Object.fromEntries(servers.map((s) => [s.address, 0])),
          ...(await vector(
            `sum by (instance) (grpc_server_call_duration_seconds_count{${rng},grpc_status="UNAVAILABLE"})`,
            "instance",
            toPod,
          )),
        },
      };
    };
    // Scrapes come every second; the client lingers until the last one saw its final counts.
    let seen = await observe();
    for (let i = 0; i < 60 && JSON.stringify(seen) !== JSON.stringify(expected); i++) {
      await new Promise((r) => setTimeout(r, 500));
      seen = await observe();
    }
    assert.deepEqual(seen, expected);
    assert.ok((expected.errors.UNAVAILABLE ?? 0) > 0, "the faulty pod's errors are counted");
  });

  it("every metric the Grafana dashboard queries is exported by the apps in this run", async (t) => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    const wanted = dashboardMetricNames(dashboard);
    assert.ok(wanted.length >= 10, `dashboard metrics: ${wanted}`);
    if (prometheus) {
      const stored = new Set(await prometheus.names());
      const missing = () => wanted.filter((n) => !stored.has(n));
      for (let i = 0; i < 40 && missing().length > 0; i++) {
        await new Promise((r) => setTimeout(r, 500));
        for (const n of await prometheus.names()) stored.add(n);
      }
      assert.deepEqual(missing(), [], "in Prometheus");
    } else {
      t.diagnostic(`${"skip" in found ? found.skip : ""}: checked against the apps' /metrics instead`);
    }
    // Straight from the apps too, so the check holds without Prometheus.
    const scraped = new Set<string>();
    for (const address of metricsOf.values()) {
      for (const n of exportedNames(await (await fetch(`http://${address}/metrics`)).text())) scraped.add(n);
    }
    for (const n of exportedNames(await (await fetch(`http://${clientMetrics}/metrics`)).text()))
      scraped.add(n);
    assert.deepEqual(
      wanted.filter((n) => !scraped.has(n)),
      [],
      "in the apps' /metrics",
    );
  });
});
