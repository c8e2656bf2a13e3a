import { entry, runJsonChild, startServiceChild } from "./child.js";
import type { BenchConfig } from "./flags.js";
import type { MemoryResult } from "./micro.js";
import type { PickResult } from "./pick.js";
import { progress } from "./progress.js";
import type { TelemetryMicroResult } from "./telemetry-micro.js";

/** The pick and memory-per-idle-endpoint microbenchmarks, each in its own child, against one h2c server farm. */
export async function runMicro(config: BenchConfig): Promise<{ pick: PickResult; memory: MemoryResult[] }> {
  const farmSize = Math.max(config.memoryEndpoints, 1000);
  progress(`micro: starting a tiny h2c server on ${farmSize} ports`);
  const farm = await startServiceChild<{ addresses: string[] }>(entry("farm.js"), [String(farmSize)], {
    timeoutMs: 60_000,
  });
  try {
    const addresses = farm.first.addresses;
    progress("micro: pick");
    const { value: pick } = await runJsonChild<PickResult>(
      entry("micro.js"),
      [
        "pick",
        JSON.stringify({
          sizes: [3, 100, 1000],
          picks: config.quick ? 200_000 : 2_000_000,
          rounds: config.quick ? 3 : 7,
          addresses: addresses.slice(0, 1000),
          callMs: config.quick ? 200 : 600,
        }),
      ],
      { timeoutMs: 180_000 },
    );
    const memory: MemoryResult[] = [];
    for (const healthCheck of [true, false]) {
      progress(`micro: memory per idle endpoint, health checks ${healthCheck ? "on" : "off"}`);
      const { value } = await runJsonChild<MemoryResult>(
        entry("micro.js"),
        ["memory", JSON.stringify({ addresses: addresses.slice(0, config.memoryEndpoints), healthCheck })],
        { nodeArgs: ["--expose-gc"], timeoutMs: 120_000 },
      );
      memory.push(value);
    }
    return { pick, memory };
  } finally {
    await farm.stop();
  }
}

/** Telemetry work per call, in-process: one child per mode (off, API only, SDK metrics, SDK tracing). */
export async function runTelemetryMicro(config: BenchConfig): Promise<TelemetryMicroResult[]> {
  const telemetryMicro: TelemetryMicroResult[] = [];
  for (const mode of ["off", "api", "metrics", "tracing"] as const) {
    progress(`micro: telemetry work per call, ${mode}`);
    const calls = String(config.quick ? 50_000 : 200_000);
    const { value } = await runJsonChild<TelemetryMicroResult>(entry("telemetry-micro.js"), [
      mode,
      calls,
      "5",
    ]);
    telemetryMicro.push(value);
  }
  return telemetryMicro;
}
