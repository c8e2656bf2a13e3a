#!/usr/bin/env node
/**
 * What OpenTelemetry metrics cost the pool, measured side by side in ONE
 * client process: `node ab.child.js '<TelemetryAbConfig JSON>'`.
 *
 * Four pools on the same servers, differing only in their `telemetry`
 * option: `false` (off), `{}` (the API only: no SDK anywhere, the default),
 * an SDK MeterProvider with a Prometheus reader whose /metrics is scraped
 * every second (passed as `meterProvider`, so the pools above stay on the
 * no-op API), and the same without the two per-attempt size histograms
 * (`disabledMetrics`). They take turns in short phases, in a rotated
 * order each round, `concurrency` closed-loop calls in flight each. With
 * `stockHash`, the SDK runs with its own attribute hash, not the
 * workspace's patched one (a process-wide switch, hence a run of its own).
 *
 * Why not separate processes: on this 2-core machine the CPU per call of
 * one client process differs by ±15 % from one process to the next (JIT
 * and batching luck), which hides a 5-10 % cost; phases of one process on
 * the same connections cancel that out, and pairing per round cancels the
 * slower drifts of the machine.
 */
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import type { MeterProvider } from "@opentelemetry/api";
import { createPoolTransport, METRIC, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { childArgs, reportResult } from "../../harness/child.js";
import { poolReady } from "../../harness/pool-ready.js";
import { startScrapedMetrics } from "../../harness/sdk.js";
import type { AbMode, AbPhase, TelemetryAbConfig, TelemetryAbResult } from "./ab.js";
import { installStockAttributeHash } from "./stock-hash.js";

async function run(config: TelemetryAbConfig): Promise<TelemetryAbResult> {
  if (config.stockHash) await installStockAttributeHash();
  // The SDK as rng-client installs it, but not globally: only the metrics pools see it.
  const sdk = await startScrapedMetrics(false);
  const meterProvider = sdk.meterProvider;
  const telemetryOf: Record<AbMode, false | { meterProvider?: MeterProvider; disabledMetrics?: string[] }> = {
    off: false,
    api: {},
    metrics: { meterProvider },
    "metrics-no-sizes": { meterProvider, disabledMetrics: [METRIC.attemptSentSize, METRIC.attemptRcvdSize] },
  };
  const modes = config.modes;
  const pools = {} as Record<AbMode, PoolTransport>;
  for (const mode of modes) {
    pools[mode] = createPoolTransport({
      target: config.poolTarget,
      connect: "eager",
      telemetry: telemetryOf[mode],
    });
  }
  const clients = Object.fromEntries(modes.map((m) => [m, createClient(Rng, pools[m])])) as Record<
    AbMode,
    ReturnType<typeof createClient<typeof Rng>>
  >;
  try {
    for (const mode of modes) {
      await poolReady(pools[mode], config.expected, 10_000);
      for (let i = 0; i < config.warmupCalls; i++) await clients[mode].rng({});
    }
    const phases: AbPhase[] = [];
    for (let round = 0; round < config.rounds; round++) {
      const shift = round % modes.length;
      const order = [...modes.slice(shift), ...modes.slice(0, shift)];
      for (const mode of order) phases.push({ round, mode, ...(await phase(clients[mode], config)) });
    }
    return { concurrency: config.concurrency, stockHash: config.stockHash, phases };
  } finally {
    await Promise.all(modes.map((m) => pools[m].close()));
    await sdk.stop();
  }
}

/** `concurrency` closed-loop workers for `phaseMs`. */
async function phase(
  client: { rng(req: object): Promise<unknown> },
  config: TelemetryAbConfig,
): Promise<Omit<AbPhase, "round" | "mode">> {
  let running = true;
  let calls = 0;
  let errors = 0;
  const worker = async () => {
    while (running) {
      try {
        await client.rng({});
        if (running) calls++;
      } catch {
        errors++;
      }
    }
  };
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  const workers = Array.from({ length: config.concurrency }, worker);
  await new Promise((resolve) => setTimeout(resolve, config.phaseMs));
  running = false;
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  await Promise.all(workers);
  return {
    callsPerSecond: calls / (elapsedMs / 1000),
    cpuUsPerCall: calls === 0 ? 0 : (cpu.user + cpu.system) / calls,
    errors,
  };
}

reportResult(
  run(
    childArgs<TelemetryAbConfig>({
      poolTarget: "string",
      expected: "number",
      concurrency: "number",
      phaseMs: "number",
      rounds: "number",
      warmupCalls: "number",
      modes: "array",
      stockHash: "boolean",
    }),
  ),
);
