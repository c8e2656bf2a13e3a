/** The server table's figures over the repeats: a row per server and concurrency, and rng-server ÷ each other server. */
import { type RepeatCell, SERVER_ROWS, type ServerRow } from "../../harness/cell.js";
import { type Spread, spread } from "../../harness/stats.js";

/** One server of the server table at one concurrency, over the repeats. */
export interface ServerSummaryRow {
  readonly server: ServerRow;
  readonly concurrency: number;
  readonly callsPerSecond: Spread;
  readonly p50Us: Spread;
  readonly p99Us: Spread;
  /** The server process's CPU (user + system) per call, µs. */
  readonly serverCpuUsPerCall: Spread;
  readonly serverRssMb: Spread;
  /** The loading client's (pool-rr, or the row's load) CPU per call, µs. */
  readonly clientCpuUsPerCall: Spread;
  readonly otherLoadCores: Spread;
  readonly errors: number;
}

/** rng-server ÷ another server, paired per repeat, at one concurrency. */
export interface ServerRatioRow {
  readonly concurrency: number;
  /** Server CPU per call: rng-server's ÷ the other's (below 1: rng-server is cheaper). */
  readonly cpu: Readonly<Partial<Record<ServerRow, Spread>>>;
  /** Calls/s: rng-server's ÷ the other's (above 1: rng-server is ahead). */
  readonly callsPerSecond: Readonly<Partial<Record<ServerRow, Spread>>>;
}

/** The server table: each server alone, loaded by the pool. */
export interface ServerTable {
  readonly descriptions: Readonly<Partial<Record<ServerRow, string>>>;
  readonly cells: readonly RepeatCell[];
  readonly summary: readonly ServerSummaryRow[];
  readonly ratios: readonly ServerRatioRow[];
}

/** The servers rng-server is compared with in the server table's ratios. */
export const SERVER_RATIO_KINDS: readonly ServerRow[] = [
  "grpc-js",
  "bare-http2",
  "stock-connect",
  "rng-server-no-fast-path",
  "rng-server-metrics",
  "rng-server+connect",
  "rng-server+connect-json",
  "rng-server+connect-h1",
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
    for (const { row: server } of SERVER_ROWS) {
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
    const paired = (other: ServerRow, metric: (rng: RepeatCell, them: RepeatCell) => number) => {
      const values: number[] = [];
      for (const r of new Set(cells.map((c) => c.repeat))) {
        const find = (server: ServerRow) =>
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
