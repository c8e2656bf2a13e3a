import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type ClientKind, type RepeatCell, SERVER_KINDS } from "../../harness/cell.js";
import type { BenchConfig } from "../../harness/config.js";
import { progress } from "../../harness/progress.js";
import { runCell } from "../../harness/run-cell.js";
import { startServers, startTableServers } from "../../harness/servers.js";
import { type ProfileSummary, summarizeProfile } from "./summarize.js";

/**
 * An investigation, not a table (`pnpm bench --profile`): CPU profiles (node --cpu-prof) of one cell each, self time
 * within the measured window: the clients (pool-rr, pool-connect,
 * stock-connect, grpc-js and the raw-http2 floor against the rng-servers)
 * and/or the servers of the server table (each loaded by pool-rr), as
 * `--tables` says. Writes profile.md.
 */
export async function runProfile(config: BenchConfig): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rngbalance-prof-"));
  const concurrency = config.concurrencies[config.concurrencies.length - 1] ?? 64;
  const durationMs = Math.max(config.durationMs, 3000);
  const lines: string[] = ["# CPU profiles (node --cpu-prof, self time)", ""];
  lines.push(
    `${concurrency} in flight, ${config.warmupMs} ms warm-up + ${durationMs} ms measured per cell; self time of the samples within the measured window only (start-up and warm-up left out). Profiles in ${dir}.`,
    "",
  );
  if (config.tables.includes("clients"))
    lines.push(...(await profileClients(config, dir, concurrency, durationMs)));
  if (config.tables.includes("servers"))
    lines.push(...(await profileServers(config, dir, concurrency, durationMs)));
  const markdown = lines.join("\n");
  mkdirSync(config.outDir, { recursive: true });
  writeFileSync(path.join(config.outDir, "profile.md"), markdown);
  process.stdout.write(markdown);
  progress(`wrote profile.md in ${config.outDir}`);
  return 0;
}

/** One profile's section of profile.md. */
function profileSection(title: string, summary: ProfileSummary): string[] {
  const lines = [title, "", "| # | function | where | self ms | self % |", "|---:|---|---|---:|---:|"];
  summary.top.forEach((e, i) => {
    lines.push(
      `| ${i + 1} | \`${e.fn}\` | ${e.where || e.area} | ${e.selfMs.toFixed(0)} | ${e.percent.toFixed(1)} |`,
    );
  });
  lines.push("", "By area:", "", "| area | self ms | self % |", "|---|---:|---:|");
  for (const a of summary.byArea.slice(0, 12)) {
    lines.push(`| ${a.area} | ${a.selfMs.toFixed(0)} | ${a.percent.toFixed(1)} |`);
  }
  lines.push("");
  return lines;
}

/** Profiles pool-rr, pool-connect, stock-connect, grpc-js and the raw-http2 floor against 3 rng-servers. */
async function profileClients(
  config: BenchConfig,
  dir: string,
  concurrency: number,
  durationMs: number,
): Promise<string[]> {
  const servers = await startServers(false);
  const group = servers.groups["rng-server"];
  const lines = ["## Clients, against 3 rng-servers", ""];
  try {
    const profiled: readonly ClientKind[] = config.clients ?? [
      "pool-rr",
      "pool-connect",
      "stock-connect",
      "grpc-js",
      "raw-http2",
    ];
    for (const client of profiled) {
      progress(`profiling ${client} at ${concurrency} in flight`);
      const cell = await runCell(
        {
          client,
          serverSet: "rng-server",
          concurrency,
          warmupMs: config.warmupMs,
          durationMs,
          poolTarget: group.poolTarget,
          addresses: group.addresses,
        },
        group,
        0,
        ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${client}.cpuprofile`],
      );
      if (cell.failure) throw new Error(cell.failure);
      const file = readdirSync(dir).find((f) => f === `${client}.cpuprofile`);
      if (!file) throw new Error(`no profile written for ${client} in ${dir}`);
      const summary = summarizeProfile(path.join(dir, file), 15, cell.windowUs);
      lines.push(
        ...profileSection(
          `### ${client}: ${Math.round(cell.callsPerSecond)} calls/s, ${cell.cpuUsPerCall.toFixed(1)} CPU µs/call (profiled, so slower)`,
          summary,
        ),
      );
    }
  } finally {
    await servers.close();
  }
  return lines;
}

/**
 * Profiles each server of the server table, loaded alone by pool-rr; the
 * server writes its profile when it exits, so each is stopped after its cell.
 */
async function profileServers(
  config: BenchConfig,
  dir: string,
  concurrency: number,
  durationMs: number,
): Promise<string[]> {
  const lines = ["## Servers, each loaded alone by pool-rr", ""];
  for (const kind of SERVER_KINDS) {
    progress(`profiling the ${kind} server at ${concurrency} in flight`);
    const name = `server-${kind}.cpuprofile`;
    const servers = await startTableServers([kind], () => [
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${name}`,
    ]);
    const group = servers.groups[kind];
    let cell: RepeatCell;
    try {
      cell = await runCell(
        {
          client: "pool-rr",
          serverSet: kind,
          concurrency,
          warmupMs: config.warmupMs,
          durationMs,
          poolTarget: group.poolTarget,
          addresses: group.addresses,
          healthCheck: false,
        },
        group,
        0,
      );
    } finally {
      await servers.close();
    }
    if (cell.failure) throw new Error(cell.failure);
    const file = readdirSync(dir).find((f) => f === name);
    if (!file) throw new Error(`no profile written for the ${kind} server in ${dir}`);
    const summary = summarizeProfile(path.join(dir, file), 15, cell.windowUs);
    lines.push(
      ...profileSection(
        `### ${kind}: ${Math.round(cell.callsPerSecond)} calls/s, server ${cell.serverCpuUsPerCall?.toFixed(1) ?? "?"} CPU µs/call (profiled, so slower)`,
        summary,
      ),
    );
  }
  return lines;
}
