import {
  type CellResult,
  CLIENTS_PER_SET,
  type ClientKind,
  SERVER_KINDS,
  SERVER_SETS,
  type ServerKind,
} from "./cell.js";
import type { RatioRow, RepeatCell, ServerRatioRow, ServerSummaryRow, SummaryRow } from "./report.js";
import { spread } from "./stats.js";

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

/** The servers rng-server is compared with in the server table's ratios. */
export const SERVER_RATIO_KINDS: readonly ServerKind[] = [
  "grpc-js",
  "bare-http2",
  "stock-connect",
  "rng-server-no-fast-path",
  "rng-server-metrics",
];

/** Groups the server table's cells into rows and paired ratios (rng-server ÷ each other server). */
export function summarizeServers(
  cells: readonly RepeatCell[],
  concurrencies: readonly number[],
): { summary: ServerSummaryRow[]; ratios: ServerRatioRow[] } {
  const summary: ServerSummaryRow[] = [];
  const ratios: ServerRatioRow[] = [];
  const ok = (c: RepeatCell) => c.failure === undefined;
  for (const concurrency of concurrencies) {
    for (const server of SERVER_KINDS) {
      const mine = cells.filter((c) => c.serverSet === server && c.concurrency === concurrency);
      if (mine.length === 0) continue;
      const good = mine.filter(ok);
      const finite = (values: (number | undefined)[]) =>
        spread(values.map((v) => v ?? Number.NaN).filter(Number.isFinite));
      summary.push({
        server,
        concurrency,
        callsPerSecond: spread(good.map((c) => c.callsPerSecond)),
        p50Us: spread(good.map((c) => c.p50Us)),
        p99Us: spread(good.map((c) => c.p99Us)),
        serverCpuUsPerCall: finite(good.map((c) => c.serverCpuUsPerCall)),
        serverRssMb: finite(good.map((c) => c.serverRssMb)),
        clientCpuUsPerCall: spread(good.map((c) => c.cpuUsPerCall)),
        otherLoadCores: finite(good.map((c) => c.otherLoadCores)),
        errors: mine.reduce((sum, c) => sum + c.errors, 0),
      });
    }
    const paired = (other: ServerKind, metric: (rng: RepeatCell, them: RepeatCell) => number) => {
      const values: number[] = [];
      for (const r of new Set(cells.map((c) => c.repeat))) {
        const find = (server: ServerKind) =>
          cells.find(
            (c) => c.repeat === r && c.serverSet === server && c.concurrency === concurrency && ok(c),
          );
        const rng = find("rng-server");
        const them = find(other);
        if (rng && them) {
          const v = metric(rng, them);
          if (Number.isFinite(v)) values.push(v);
        }
      }
      return spread(values);
    };
    const present = SERVER_RATIO_KINDS.filter((k) => cells.some((c) => c.serverSet === k));
    ratios.push({
      concurrency,
      cpu: Object.fromEntries(
        present.map((k) => [
          k,
          paired(
            k,
            (rng, them) => (rng.serverCpuUsPerCall ?? Number.NaN) / (them.serverCpuUsPerCall ?? Number.NaN),
          ),
        ]),
      ),
      callsPerSecond: Object.fromEntries(
        present.map((k) => [k, paired(k, (rng, them) => rng.callsPerSecond / them.callsPerSecond)]),
      ),
    });
  }
  return { summary, ratios };
}

const throughput = (pool: CellResult, them: CellResult) => pool.callsPerSecond / them.callsPerSecond;
const cpuRatio = (pool: CellResult, them: CellResult) => them.cpuUsPerCall / pool.cpuUsPerCall;
