#!/usr/bin/env node
/**
 * `pnpm bench`: starts 3 rng-server processes (startRngFleet, with its embedded
 * DNS server) and 3 grpc-js server processes on 127.0.0.2-4, then runs every
 * (client, calls in flight) cell in a fresh client process, interleaved
 * across clients, `--repeats` times; then the pick and memory
 * microbenchmarks. Prints a Markdown report and writes
 * latest.{md,json,svg}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { CLIENT_DESCRIPTIONS, CLIENTS_PER_SET, type ClientKind } from "./cell.js";
import { runClientTable } from "./client-table.js";
import { type BenchConfig, FlagError, parseBenchFlags, USAGE } from "./flags.js";
import type { MemoryResult } from "./micro.js";
import { runMicro, runTelemetryMicro } from "./micro-run.js";
import type { PickResult } from "./pick.js";
import { runProfile } from "./profile-run.js";
import { progress } from "./progress.js";
import type { BenchReport, MachineFacts, RepeatCell } from "./report.js";
import { renderMarkdown } from "./report-markdown.js";
import { summarize } from "./report-summary.js";
import { renderSvg } from "./report-svg.js";
import { runServerTable } from "./server-table.js";
import { renderTelemetryCost, telemetryCost } from "./telemetry-cost.js";
import { runTelemetryAb } from "./telemetry-table.js";

/** The machine the figures come from; the load average at the end is filled in when the run ends. */
function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown CPU",
    cores: cpus.length,
    memoryGb: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: { start: os.loadavg()[0] ?? 0, end: 0 },
  };
}

/**
 * The bench: the client, server and telemetry tables and the microbenchmarks,
 * as `--tables` and `--no-micro` say; writes latest.{md,json,svg} and prints
 * the Markdown. Exit status 0 when no call failed.
 */
async function runBench(config: BenchConfig): Promise<number> {
  const startedAt = new Date();
  const machine = machineFacts();
  let pick: PickResult | undefined;
  let memory: MemoryResult[] = [];
  const cells: RepeatCell[] = config.tables.clients ? await runClientTable(config) : [];
  const serverTable = config.tables.servers ? await runServerTable(config) : undefined;
  const telemetryAb = config.tables.telemetry ? await runTelemetryAb(config) : [];
  if (config.micro) ({ pick, memory } = await runMicro(config));
  const telemetryMicro = config.micro ? await runTelemetryMicro(config) : [];

  machine.loadAverage.end = os.loadavg()[0] ?? 0;
  const { summary, ratios } = summarize(cells, config.concurrencies);
  const telemetry = telemetryCost(telemetryAb, cells, config.concurrencies, telemetryMicro);
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    tookSeconds: (Date.now() - startedAt.getTime()) / 1000,
    machine,
    settings: {
      repeats: config.repeats,
      concurrencies: config.concurrencies,
      warmupMs: config.warmupMs,
      durationMs: config.durationMs,
      quick: config.quick,
      maxOtherLoad: Number.isFinite(config.maxOtherLoad) ? config.maxOtherLoad : "off",
    },
    clients: Object.fromEntries(
      Object.entries(CLIENT_DESCRIPTIONS).filter(([k]) => cells.some((c) => c.client === k)),
    ) as Partial<Record<ClientKind, string>>,
    serverSets: CLIENTS_PER_SET,
    cells,
    summary,
    ratios,
    telemetry,
    pick,
    memory,
    ...(serverTable ? { servers: serverTable } : {}),
    errors: [...cells, ...(serverTable?.cells ?? [])].reduce((sum, c) => sum + c.errors, 0),
  };
  const markdown = `${renderMarkdown(report)}\n${renderTelemetryCost(telemetry)}`;
  mkdirSync(config.outDir, { recursive: true });
  writeFileSync(path.join(config.outDir, "latest.md"), markdown);
  writeFileSync(path.join(config.outDir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(config.outDir, "latest.svg"), renderSvg(report));
  process.stdout.write(markdown);
  progress(`wrote latest.md, latest.json and latest.svg in ${config.outDir}`);
  return report.errors === 0 ? 0 : 1;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseBenchFlags>;
  try {
    parsed = parseBenchFlags(process.argv.slice(2));
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return parsed.config.profile ? runProfile(parsed.config) : runBench(parsed.config);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
