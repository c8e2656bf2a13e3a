#!/usr/bin/env node
/**
 * One cell in its own process: `node client.child.js '<CellConfig JSON>'`.
 * Creates the client, warms up, runs `concurrency` closed-loop workers for
 * the cell's duration, and prints one JSON line (a CellResult) on stdout.
 * The process's CPU and RSS are the client's alone.
 */
import { performance } from "node:perf_hooks";
import type { CellConfig, CellResult } from "./cell.js";
import { childArgs, reportResult } from "./child.js";
import { createCaller } from "./clients.js";
import { Histogram } from "./histogram.js";

async function runCell(config: CellConfig): Promise<CellResult> {
  const caller = await createCaller(config);
  await caller.ready(10_000);

  const histogram = new Histogram();
  let recording = false;
  let running = true;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;

  const worker = async () => {
    while (running) {
      const started = performance.now();
      try {
        await caller.call();
        if (recording && running) {
          histogram.record((performance.now() - started) * 1000);
          calls++;
        }
      } catch (err) {
        errors++;
        firstError ??= String((err as Error).message ?? err);
      }
    }
  };
  const workers = Array.from({ length: config.concurrency }, worker);

  await sleep(config.warmupMs);
  // The parent samples the servers' CPU at these two lines.
  process.stdout.write('{"event":"start"}\n');
  const windowStart = Number(process.hrtime.bigint() / 1000n);
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  recording = true;
  await sleep(config.durationMs);
  running = false;
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const windowEnd = Number(process.hrtime.bigint() / 1000n);
  const rss = process.memoryUsage().rss;
  process.stdout.write('{"event":"stop"}\n');
  await Promise.all(workers);
  const spread = caller.spread();
  await caller.close();

  return {
    client: config.client,
    serverSet: config.serverSet,
    concurrency: config.concurrency,
    elapsedMs,
    calls,
    callsPerSecond: calls / (elapsedMs / 1000),
    p50Us: histogram.percentile(50),
    p99Us: histogram.percentile(99),
    cpuUsPerCall: calls === 0 ? 0 : (cpu.user + cpu.system) / calls,
    rssMb: rss / (1024 * 1024),
    errors,
    firstError,
    spread,
    windowUs: [windowStart, windowEnd],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

reportResult(
  runCell(
    childArgs<CellConfig>({
      client: "string",
      serverSet: "string",
      concurrency: "number",
      warmupMs: "number",
      durationMs: "number",
      poolTarget: "string",
      addresses: "array",
      healthCheck: "boolean?",
    }),
  ),
);
