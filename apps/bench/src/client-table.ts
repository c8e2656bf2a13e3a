import { CLIENTS_PER_SET, type ClientKind, SERVER_SETS, type ServerSet } from "./cell.js";
import type { BenchConfig } from "./flags.js";
import { progress } from "./progress.js";
import type { RepeatCell } from "./report.js";
import { runCell, runQuietly } from "./run-cell.js";
import { HOSTS, startServers } from "./servers.js";

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
 * The client table: every planned cell, each in a fresh client process,
 * against 3 rng-servers and 3 grpc-js servers, re-run when the machine was busy.
 */
export async function runClientTable(config: BenchConfig): Promise<RepeatCell[]> {
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
