/**
 * The client table: the pool against stock connect-node and grpc-js, each
 * cell a fresh client process, against 3 rng-servers and 3 grpc-js servers.
 */

import {
  CLIENT_DESCRIPTIONS,
  CLIENTS_PER_SET,
  type ClientKind,
  type RepeatCell,
  SERVER_SETS,
  type ServerSet,
} from "../../harness/cell.js";
import type { BenchConfig } from "../../harness/config.js";
import { progress } from "../../harness/progress.js";
import { runCell, runQuietly } from "../../harness/run-cell.js";
import { HOSTS, startServers } from "../../harness/servers.js";
import type { Table } from "../../harness/table.js";
import { renderClientTable } from "./markdown.js";
import { type RatioRow, type SummaryRow, summarize } from "./summary.js";
import { renderSvg } from "./svg.js";

/** Every (repeat, concurrency, server set, client), clients interleaved, order rotated per repeat. */
function plan(
  config: BenchConfig,
): { repeat: number; serverSet: ServerSet; client: ClientKind; concurrency: number }[] {
  // --clients may name any client; those only gRPC servers can take run against grpc-js servers too.
  const chosen = (serverSet: ServerSet) =>
    config.clients === undefined
      ? CLIENTS_PER_SET[serverSet]
      : config.clients.filter((c) => serverSet === "rng-server" || CLIENTS_PER_SET[serverSet].includes(c));
  const pairs = SERVER_SETS.flatMap((serverSet) =>
    chosen(serverSet).map((client) => ({ serverSet, client })),
  );
  const out: ReturnType<typeof plan> = [];
  for (let repeat = 0; repeat < config.repeats; repeat++) {
    const shift = repeat % pairs.length;
    const order = [...pairs.slice(shift), ...pairs.slice(0, shift)];
    for (const concurrency of config.concurrencies) {
      for (const p of order) out.push({ repeat, concurrency, ...p });
    }
  }
  return out;
}

/**
 * Every planned cell, each in a fresh client process, against 3 rng-servers
 * and 3 grpc-js servers, re-run when the machine was busy.
 */
async function runClientTable(config: BenchConfig): Promise<RepeatCell[]> {
  const cells: RepeatCell[] = [];
  progress(`starting 3 rng-server and 3 grpc-js server processes on ${HOSTS.join(", ")}`);
  const servers = await startServers(true);
  try {
    const todo = plan(config);
    const budget = { retriesLeft: Math.floor(todo.length / 4) };
    for (const [i, p] of todo.entries()) {
      const group = servers.groups[p.serverSet];
      const run = () =>
        runCell(
          {
            client: p.client,
            serverSet: p.serverSet,
            concurrency: p.concurrency,
            warmupMs: config.warmupMs,
            durationMs: config.durationMs,
            poolTarget: group.poolTarget,
            addresses: group.addresses,
          },
          group,
          p.repeat,
        );
      const cell = await runQuietly(run, group, config, budget);
      cells.push(cell);
      progress(
        `[${String(i + 1).padStart(String(todo.length).length)}/${todo.length}] repeat ${p.repeat + 1} ${p.serverSet.padEnd(14)} ${p.client.padEnd(13)} ${String(p.concurrency).padStart(3)} in flight: ${
          cell.failure
            ? `FAILED ${cell.failure}`
            : `${Math.round(cell.callsPerSecond)} calls/s, p50 ${Math.round(cell.p50Us)} µs, p99 ${Math.round(cell.p99Us)} µs, ${cell.cpuUsPerCall.toFixed(1)} CPU µs/call, other load ${cell.otherLoadCores?.toFixed(2) ?? "?"} cores, ${cell.errors} errors${cell.spread ? `, spread ${cell.spread.join("/")}` : ""}`
        }`,
      );
    }
  } finally {
    await servers.close();
  }
  return cells;
}

/** The client table's fields of latest.json. */
export interface ClientsJson {
  /** The clients that ran, in words. */
  readonly clients: Readonly<Partial<Record<ClientKind, string>>>;
  readonly serverSets: Readonly<Record<ServerSet, readonly ClientKind[]>>;
  readonly cells: readonly RepeatCell[];
  readonly summary: readonly SummaryRow[];
  readonly ratios: readonly RatioRow[];
}

/** The client table: its result is every cell of every repeat. */
export const clientsTable: Table<RepeatCell[]> = {
  id: "clients",
  title: "the pool, stock connect-node and grpc-js, against 3 rng-servers and 3 grpc-js servers",
  inDefaultRun: true,
  run: ({ config }) => runClientTable(config),
  render(cells, { config, machine }) {
    const { summary, ratios } = summarize(cells, config.concurrencies);
    const json: ClientsJson = {
      clients: Object.fromEntries(
        Object.entries(CLIENT_DESCRIPTIONS).filter(([k]) => cells.some((c) => c.client === k)),
      ) as Partial<Record<ClientKind, string>>,
      serverSets: CLIENTS_PER_SET,
      cells,
      summary,
      ratios,
    };
    return {
      markdown: renderClientTable(json, config, machine.cores),
      json: { ...json },
      errors: cells.reduce((sum, c) => sum + c.errors, 0),
      files: { "latest.svg": renderSvg(summary, config.repeats, config.concurrencies) },
    };
  },
};
