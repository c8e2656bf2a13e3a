/**
 * The parts of a report that are not any table's: the machine, the
 * settings, the header and the footer.
 */
import * as os from "node:os";
import { fileURLToPath } from "node:url";
import type { BenchConfig } from "./config.js";
import { fmt } from "./format.js";

/** bench/results at the repository root: where reports go unless `--out` says otherwise. */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL("../../../../bench/results/", import.meta.url));

/** The machine the numbers come from. */
export interface MachineFacts {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews figures. */
  readonly loadAverage: { readonly start: number; end: number };
}

/** The machine now; the load average at the end is filled in when the run ends. */
export function machineFacts(): MachineFacts {
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

/** The settings a report was measured with. */
export interface ReportSettings {
  readonly repeats: number;
  readonly concurrencies: readonly number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly quick: boolean;
  readonly maxOtherLoad: number | "off";
}

/** The fields every report's JSON starts with; the tables' fields follow, then `errors`. */
export interface ReportHeader {
  readonly startedAt: string;
  readonly tookSeconds: number;
  readonly machine: MachineFacts;
  readonly settings: ReportSettings;
}

/** The settings of `config`, as reports show them. */
export function reportSettings(config: BenchConfig): ReportSettings {
  return {
    repeats: config.repeats,
    concurrencies: config.concurrencies,
    warmupMs: config.warmupMs,
    durationMs: config.durationMs,
    quick: config.quick,
    maxOtherLoad: Number.isFinite(config.maxOtherLoad) ? config.maxOtherLoad : "off",
  };
}

/** The report's title, machine and method, as Markdown lines. */
export function renderHeader(header: ReportHeader): string[] {
  const { machine: m, settings: s } = header;
  return [
    "# rngbalance benchmark",
    "",
    `${header.startedAt} · ${m.cpu}, ${m.cores} cores, ${fmt(m.memoryGb, 1)} GB · ${m.os} · Node ${m.node} · took ${fmt(header.tookSeconds)} s · load average ${m.loadAverage.start.toFixed(2)} at start, ${m.loadAverage.end.toFixed(2)} at end`,
    "",
    `Unary \`/rng.Rng/Rng\`, closed loop (N workers, each awaiting its call before the next), ${s.warmupMs} ms warm-up + ${s.durationMs} ms measured per cell, ${s.repeats} repeat${s.repeats === 1 ? "" : "s"}, cells interleaved across clients (order rotated per repeat). Every client runs in its own process; servers are separate processes on 127.0.0.2-4. Figures: median (min–max) over repeats.`,
    "",
  ];
}
