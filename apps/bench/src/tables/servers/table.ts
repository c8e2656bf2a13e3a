/**
 * The server table: what each server costs per call, each alone in its own
 * process, loaded by the pool from another.
 */

import {
  type ClientKind,
  type RepeatCell,
  SERVER_DESCRIPTIONS,
  SERVER_KINDS,
  SERVER_ROW_DESCRIPTIONS,
  SERVER_ROWS,
  type ServerKind,
  type ServerRow,
} from "../../harness/cell.js";
import type { BenchConfig } from "../../harness/config.js";
import { progress } from "../../harness/progress.js";
import { runCell, runQuietly } from "../../harness/run-cell.js";
import { startTableServers } from "../../harness/servers.js";
import type { Table } from "../../harness/table.js";
import { renderServerTable } from "./markdown.js";
import { type ServerTable, summarizeServers } from "./summary.js";

/**
 * Each server alone, loaded by pool-rr (health checks off) at every
 * concurrency, and rng-server (and, over HTTP/1.1, rng-server without its
 * fast path) also under Connect loads (SERVER_ROWS); rows interleaved,
 * order rotated per repeat.
 */
async function runServerTable(config: BenchConfig): Promise<ServerTable> {
  progress(`server table: starting ${SERVER_KINDS.join(", ")} (one process each)`);
  const servers = await startTableServers();
  const cells: RepeatCell[] = [];
  try {
    const todo: {
      repeat: number;
      concurrency: number;
      row: ServerRow;
      server: ServerKind;
      client: ClientKind;
    }[] = [];
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      const shift = repeat % SERVER_ROWS.length;
      const order = [...SERVER_ROWS.slice(shift), ...SERVER_ROWS.slice(0, shift)];
      for (const concurrency of config.concurrencies) {
        for (const row of order) todo.push({ repeat, concurrency, ...row });
      }
    }
    const budget = { retriesLeft: Math.floor(todo.length / 4) };
    for (const [i, p] of todo.entries()) {
      const group = servers.groups[p.server];
      const run = () =>
        runCell(
          {
            client: p.client,
            serverSet: p.row,
            concurrency: p.concurrency,
            warmupMs: config.warmupMs,
            durationMs: config.durationMs,
            poolTarget: group.poolTarget,
            addresses: group.addresses,
            healthCheck: false,
          },
          group,
          p.repeat,
        );
      const cell = await runQuietly(run, group, config, budget);
      cells.push(cell);
      progress(
        `[${String(i + 1).padStart(String(todo.length).length)}/${todo.length}] repeat ${p.repeat + 1} server ${p.row.padEnd(34)} ${String(p.concurrency).padStart(3)} in flight: ${
          cell.failure
            ? `FAILED ${cell.failure}`
            : `${Math.round(cell.callsPerSecond)} calls/s, server ${cell.serverCpuUsPerCall?.toFixed(1) ?? "?"} CPU µs/call, ${cell.serverRssMb?.toFixed(1) ?? "?"} MB, p50 ${Math.round(cell.p50Us)} µs, p99 ${Math.round(cell.p99Us)} µs, other load ${cell.otherLoadCores?.toFixed(2) ?? "?"} cores, ${cell.errors} errors`
        }`,
      );
    }
  } finally {
    await servers.close();
  }
  const { summary, ratios } = summarizeServers(cells, config.concurrencies);
  return { descriptions: { ...SERVER_DESCRIPTIONS, ...SERVER_ROW_DESCRIPTIONS }, cells, summary, ratios };
}

/** The server table; its result goes to latest.json as `servers`. */
export const serversTable: Table<ServerTable> = {
  id: "servers",
  title:
    "rng-server, stock connect-node, a grpc-js server and a bare node:http2 floor, each loaded alone by the pool",
  inDefaultRun: true,
  run: ({ config }) => runServerTable(config),
  render: (table) => ({
    markdown: renderServerTable(table),
    json: { servers: table },
    errors: table.cells.reduce((sum, c) => sum + c.errors, 0),
  }),
};
