/**
 * The telemetry table: what OpenTelemetry costs the pool. Off, API-only and
 * SDK-metrics pools take turns in one client process, per concurrency; then
 * API only and SDK metrics again in a second process with the SDK's stock
 * attribute hash. Tracing comes from the client table's pool-tracing cells
 * (when that table ran), and the in-process work per call from one child
 * per mode (unless `--no-micro`).
 */

import { childPath, runChild } from "../../harness/child.js";
import type { BenchConfig } from "../../harness/config.js";
import { progress } from "../../harness/progress.js";
import { startServers } from "../../harness/servers.js";
import type { Table } from "../../harness/table.js";
import { clientsTable } from "../clients/table.js";
import { AB_MODES, type TelemetryAbConfig, type TelemetryAbResult } from "./ab.js";
import { renderTelemetryCost, type TelemetryCost, telemetryCost } from "./cost.js";
import type { TelemetryMicroConfig, TelemetryMicroResult } from "./micro.child.js";

const AB_CHILD = childPath(import.meta.url, "ab.child.js");
const MICRO_CHILD = childPath(import.meta.url, "micro.child.js");
/** The A/B runs: one child per concurrency and hash. */
async function runTelemetryAb(config: BenchConfig): Promise<TelemetryAbResult[]> {
  progress("telemetry: starting 3 rng-server processes");
  const servers = await startServers(false);
  const group = servers.groups["rng-server"];
  const results: TelemetryAbResult[] = [];
  try {
    for (const concurrency of config.concurrencies) {
      for (const stockHash of [false, true]) {
        const abConfig: TelemetryAbConfig = {
          poolTarget: group.poolTarget,
          expected: group.addresses.length,
          concurrency,
          phaseMs: config.quick ? 300 : 1000,
          rounds: config.quick ? 2 : 4 * config.repeats,
          warmupCalls: config.quick ? 200 : 2000,
          // The stock hash's run compares only what it changes.
          modes: stockHash ? ["api", "metrics"] : AB_MODES,
          stockHash,
        };
        progress(
          stockHash
            ? `telemetry: API only / SDK metrics with the SDK's stock attribute hash, ${concurrency} in flight, ${abConfig.rounds} rounds`
            : `telemetry: off / API only / SDK metrics with and without sizes, ${concurrency} in flight, ${abConfig.rounds} rounds`,
        );
        const { value } = await runChild<TelemetryAbResult>(AB_CHILD, abConfig, {
          timeoutMs: 60_000 + abConfig.rounds * abConfig.modes.length * (abConfig.phaseMs + 2000),
        });
        const errors = value.phases.reduce((n, p) => n + p.errors, 0);
        if (errors > 0) throw new Error(`telemetry A/B at ${concurrency} in flight: ${errors} failed calls`);
        results.push(value);
      }
    }
  } finally {
    await servers.close();
  }
  return results;
}

/** Telemetry work per call, in-process: one child per mode (off, API only, SDK metrics, SDK tracing). */
async function runTelemetryMicro(config: BenchConfig): Promise<TelemetryMicroResult[]> {
  const telemetryMicro: TelemetryMicroResult[] = [];
  for (const mode of ["off", "api", "metrics", "tracing"] as const) {
    progress(`micro: telemetry work per call, ${mode}`);
    const microConfig: TelemetryMicroConfig = { mode, calls: config.quick ? 50_000 : 200_000, rounds: 5 };
    const { value } = await runChild<TelemetryMicroResult>(MICRO_CHILD, microConfig);
    telemetryMicro.push(value);
  }
  return telemetryMicro;
}

/** The telemetry table; its result goes to latest.json as `telemetry`. */
export const telemetryTable: Table<TelemetryCost> = {
  id: "telemetry",
  title: "what OpenTelemetry costs the pool: off, API only, SDK metrics and tracing, paired",
  inDefaultRun: true,
  async run(ctx) {
    const { config } = ctx;
    const ab = await runTelemetryAb(config);
    const micro = config.micro ? await runTelemetryMicro(config) : [];
    const cells = ctx.resultOf(clientsTable) ?? [];
    return telemetryCost(ab, cells, config.concurrencies, micro);
  },
  render: (cost) => ({ markdown: renderTelemetryCost(cost), json: { telemetry: cost }, errors: 0 }),
};
