import { entry, runJsonChild } from "./child.js";
import type { BenchConfig } from "./flags.js";
import { progress } from "./progress.js";
import { startServers } from "./servers.js";
import { AB_MODES, type TelemetryAbConfig, type TelemetryAbResult } from "./telemetry-ab.js";

/**
 * The telemetry table: off, API-only and SDK-metrics pools taking turns in
 * one client process, per concurrency; then API only and SDK metrics again
 * in a second process with the SDK's stock attribute hash.
 */
export async function runTelemetryAb(config: BenchConfig): Promise<TelemetryAbResult[]> {
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
        const { value } = await runJsonChild<TelemetryAbResult>(
          entry("telemetry-ab-child.js"),
          [JSON.stringify(abConfig)],
          {
            timeoutMs: 60_000 + abConfig.rounds * abConfig.modes.length * (abConfig.phaseMs + 2000),
          },
        );
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
