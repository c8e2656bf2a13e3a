/** The client table's figures over the repeats: a row per client and concurrency, and the paired ratios. */
import {
  type CellResult,
  CLIENTS_PER_SET,
  type ClientKind,
  type RepeatCell,
  SERVER_SETS,
  type ServerSet,
} from "../../harness/cell.js";
import { type Spread, spread } from "../../harness/stats.js";

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

/** How the report names each server set, in the Markdown headings and the SVG's panels. */
export const SERVER_TITLES: Readonly<Record<ServerSet, string>> = {
  "rng-server": "against 3 rng-server processes (our connect-node server)",
  "grpc-js-server": "against 3 grpc-js server processes",
};

/** Groups the cells into summary rows and paired ratios. */
export function summarize(
  cells: readonly RepeatCell[],
  concurrencies: readonly number[],
): { summary: SummaryRow[]; ratios: RatioRow[] } {
  const summary: SummaryRow[] = [];
  const ratios: RatioRow[] = [];
  for (const serverSet of SERVER_SETS) {
    for (const concurrency of concurrencies) {
      for (const client of CLIENTS_PER_SET[serverSet]) {
        const mine = cells.filter(
          (c) => c.serverSet === serverSet && c.client === client && c.concurrency === concurrency,
        );
        if (mine.length === 0) continue;
        const ok = mine.filter((c) => c.failure === undefined);
        summary.push({
          serverSet,
          client,
          concurrency,
          callsPerSecond: spread(ok.map((c) => c.callsPerSecond)),
          p50Us: spread(ok.map((c) => c.p50Us)),
          p99Us: spread(ok.map((c) => c.p99Us)),
          cpuUsPerCall: spread(ok.map((c) => c.cpuUsPerCall)),
          rssMb: spread(ok.map((c) => c.rssMb)),
          serverCpuUsPerCall: spread(
            ok.map((c) => c.serverCpuUsPerCall ?? Number.NaN).filter(Number.isFinite),
          ),
          otherLoadCores: spread(ok.map((c) => c.otherLoadCores ?? Number.NaN).filter(Number.isFinite)),
          errors: mine.reduce((sum, c) => sum + c.errors, 0),
        });
      }
      const paired = (other: ClientKind, metric: (pool: CellResult, them: CellResult) => number) => {
        const values: number[] = [];
        const repeats = new Set(cells.map((c) => c.repeat));
        for (const r of repeats) {
          const find = (client: ClientKind) =>
            cells.find(
              (c) =>
                c.repeat === r &&
                c.serverSet === serverSet &&
                c.client === client &&
                c.concurrency === concurrency &&
                c.failure === undefined,
            );
          const pool = find("pool-rr");
          const them = find(other);
          if (pool && them) {
            const v = metric(pool, them);
            if (Number.isFinite(v)) values.push(v);
          }
        }
        return spread(values);
      };
      ratios.push({
        serverSet,
        concurrency,
        poolOverStockConnect: paired("stock-connect", throughput),
        poolOverGrpcJs: paired("grpc-js", throughput),
        cpuStockConnectOverPool: paired("stock-connect", cpuRatio),
        cpuGrpcJsOverPool: paired("grpc-js", cpuRatio),
      });
    }
  }
  return { summary, ratios };
}

const throughput = (pool: CellResult, them: CellResult) => pool.callsPerSecond / them.callsPerSecond;
const cpuRatio = (pool: CellResult, them: CellResult) => them.cpuUsPerCall / pool.cpuUsPerCall;
