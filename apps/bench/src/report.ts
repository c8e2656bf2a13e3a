/**
 * The report's shape: what one run measured, as written to latest.json.
 * Computed by report-summary.ts, rendered by report-markdown.ts and report-svg.ts.
 */
import type { CellResult, ClientKind, ServerKind, ServerSet } from "./cell.js";
import type { MemoryResult } from "./micro.js";
import type { PickResult } from "./pick.js";
import type { Spread } from "./stats.js";
import type { TelemetryCost } from "./telemetry-cost.js";

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

/** One cell of one repeat. */
export interface RepeatCell extends CellResult {
  readonly repeat: number;
  /** Set when the child process itself failed; the cell then counts as one error. */
  readonly failure?: string;
  /** Runs of this cell (more than 1 when other load made it run again; the quietest is kept). */
  readonly attempts?: number;
}

/** One client at one concurrency, over the repeats. */
export interface SummaryRow {
  readonly serverSet: ServerSet;
  readonly client: ClientKind;
  readonly concurrency: number;
  readonly callsPerSecond: Spread;
  readonly p50Us: Spread;
  readonly p99Us: Spread;
  readonly cpuUsPerCall: Spread;
  readonly rssMb: Spread;
  readonly serverCpuUsPerCall: Spread;
  readonly otherLoadCores: Spread;
  /** Failed calls over all repeats (a failed child counts as one). */
  readonly errors: number;
}

/** pool-rr ÷ another client, paired per repeat. */
export interface RatioRow {
  readonly serverSet: ServerSet;
  readonly concurrency: number;
  readonly poolOverStockConnect: Spread;
  readonly poolOverGrpcJs: Spread;
  /** Client CPU per call: stock-connect's ÷ pool-rr's (above 1: the pool is cheaper). */
  readonly cpuStockConnectOverPool: Spread;
  /** Client CPU per call: grpc-js's ÷ pool-rr's (above 1: the pool is cheaper). */
  readonly cpuGrpcJsOverPool: Spread;
}

/** One server of the server table at one concurrency, over the repeats. */
export interface ServerSummaryRow {
  readonly server: ServerKind;
  readonly concurrency: number;
  readonly callsPerSecond: Spread;
  readonly p50Us: Spread;
  readonly p99Us: Spread;
  /** The server process's CPU (user + system) per call, µs. */
  readonly serverCpuUsPerCall: Spread;
  readonly serverRssMb: Spread;
  /** The loading client's (pool-rr) CPU per call, µs. */
  readonly clientCpuUsPerCall: Spread;
  readonly otherLoadCores: Spread;
  readonly errors: number;
}

/** rng-server ÷ another server, paired per repeat, at one concurrency. */
export interface ServerRatioRow {
  readonly concurrency: number;
  /** Server CPU per call: rng-server's ÷ the other's (below 1: rng-server is cheaper). */
  readonly cpu: Readonly<Partial<Record<ServerKind, Spread>>>;
  /** Calls/s: rng-server's ÷ the other's (above 1: rng-server is ahead). */
  readonly callsPerSecond: Readonly<Partial<Record<ServerKind, Spread>>>;
}

/** The server table: each server alone, loaded by the pool. */
export interface ServerTable {
  readonly descriptions: Readonly<Partial<Record<ServerKind, string>>>;
  readonly cells: readonly RepeatCell[];
  readonly summary: readonly ServerSummaryRow[];
  readonly ratios: readonly ServerRatioRow[];
}

/** Everything one run measured; written as latest.json. */
export interface BenchReport {
  readonly startedAt: string;
  readonly tookSeconds: number;
  readonly machine: MachineFacts;
  readonly settings: {
    readonly repeats: number;
    readonly concurrencies: readonly number[];
    readonly warmupMs: number;
    readonly durationMs: number;
    readonly quick: boolean;
    readonly maxOtherLoad: number | "off";
  };
  /** The clients that ran, in words. */
  readonly clients: Readonly<Partial<Record<ClientKind, string>>>;
  readonly serverSets: Readonly<Record<ServerSet, readonly ClientKind[]>>;
  readonly cells: readonly RepeatCell[];
  readonly summary: readonly SummaryRow[];
  readonly ratios: readonly RatioRow[];
  /** What OpenTelemetry costs the pool (the telemetry A/B and the tracing cells), when they ran. */
  readonly telemetry?: TelemetryCost;
  readonly pick: PickResult | undefined;
  readonly memory: readonly MemoryResult[];
  /** The server table, unless skipped (`--tables clients`). */
  readonly servers?: ServerTable;
  /** Total failed calls; 0 for a clean run. */
  readonly errors: number;
}

/** How the report names each server set, in the Markdown headings and the SVG's panels. */
export const SERVER_TITLES: Readonly<Record<ServerSet, string>> = {
  "rng-server": "against 3 rng-server processes (our connect-node server)",
  "grpc-js-server": "against 3 grpc-js server processes",
};
