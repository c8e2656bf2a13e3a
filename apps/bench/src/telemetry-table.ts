import { entry, runJsonChild } from "./child.js";
import type { BenchConfig } from "./flags.js";
import { progress } from "./progress.js";
import { startServers } from "./servers.js";
import { AB_MODES, type TelemetryAbConfig, type TelemetryAbResult } from "./telemetry-ab.js";

/** The telemetry table: off, API-only and SDK-metrics pools taking turns in one client process, per concurrency. */
export async function runTelemetryAb(config: BenchConfig): Promise<TelemetryAbResult[]> {
  progress("telemetry: starting 3 rng-server processes");
  const servers = await startServers(false);
  const group = servers.groups["rng-server"];
  const results: TelemetryAbResult[] = [];
  try {
    for (const concurrency of config.concurrencies) {
      const abConfig: TelemetryAbConfig = {
        poolTarget: group.poolTarget,
        expected: group.addresses.length,
        concurrency,
        phaseMs: config.quick ? 300 : 1000,
        rounds: config.quick ? 2 : 4 * config.repeats,
        warmupCalls: config.quick ? 200 : 2000,
      };
      progress(
        `telemetry: off / API only / SDK metrics with and without sizes, ${concurrency} in flight, ${abConfig.rounds} rounds`,
      );
      const { value } = await runJsonChild<TelemetryAbResult>(
        entry("telemetry-ab-child.js"),
        [JSON.stringify(abConfig)],
        {
          timeoutMs: 60_000 + abConfig.rounds * AB_MODES.length * (abConfig.phaseMs + 2000),
        },
      );
      const errors = value.phases.reduce((n, p) => n + p.errors, 0);
      if (errors > 0) throw new Error(`telemetry A/B at ${concurrency} in flight: ${errors} failed calls`);
      results.push(value);
    }
  } finally {
    await servers.close();
  }
  return results;
}
