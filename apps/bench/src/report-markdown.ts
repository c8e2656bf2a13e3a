import { CLIENTS_PER_SET, SERVER_SETS } from "./cell.js";
import { type BenchReport, SERVER_TITLES, type ServerTable } from "./report.js";
import { SERVER_RATIO_KINDS } from "./report-summary.js";
import { type Spread, spread } from "./stats.js";

function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtSpread(s: Spread, digits = 0): string {
  if (!Number.isFinite(s.median)) return "–";
  if (s.min === s.max) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

function fmtRatio(s: Spread): string {
  if (!Number.isFinite(s.median)) return "–";
  return `${s.min.toFixed(2)} / **${s.median.toFixed(2)}** / ${s.max.toFixed(2)}`;
}

/** The whole report as Markdown. */
export function renderMarkdown(report: BenchReport): string {
  const { machine: m, settings: s } = report;
  const lines: string[] = [];
  lines.push("# rngbalance benchmark", "");
  lines.push(
    `${report.startedAt} · ${m.cpu}, ${m.cores} cores, ${fmt(m.memoryGb, 1)} GB · ${m.os} · Node ${m.node} · took ${fmt(report.tookSeconds)} s · load average ${m.loadAverage.start.toFixed(2)} at start, ${m.loadAverage.end.toFixed(2)} at end`,
    "",
  );
  lines.push(
    `Unary \`/rng.Rng/Rng\`, closed loop (N workers, each awaiting its call before the next), ${s.warmupMs} ms warm-up + ${s.durationMs} ms measured per cell, ${s.repeats} repeat${s.repeats === 1 ? "" : "s"}, cells interleaved across clients (order rotated per repeat). Every client runs in its own process; servers are separate processes on 127.0.0.2-4. Figures: median (min–max) over repeats.`,
    "",
  );
  // The client table (skipped with `--tables servers`).
  if (report.cells.length > 0) lines.push(...renderClientTable(report));
  if (report.servers) lines.push(...renderServerTable(report.servers));
  if (report.pick) {
    const p = report.pick;
    lines.push(`## Pick (${p.unit})`, "");
    const sizes = [...new Set(p.rows.map((r) => r.endpoints))];
    lines.push(`| policy | ${sizes.map((n) => `${n} endpoints`).join(" | ")} |`);
    lines.push(`|---|${sizes.map(() => "---:").join("|")}|`);
    for (const policy of ["round_robin", "least_request"] as const) {
      const cells = sizes.map((n) => {
        const row = p.rows.find((r) => r.policy === policy && r.endpoints === n);
        return row ? fmt(row.value, 1) : "–";
      });
      lines.push(`| ${policy} | ${cells.join(" | ")} |`);
    }
    lines.push("", p.note, "");
  }
  if (report.memory.length > 0) {
    lines.push("## Memory per idle endpoint", "");
    lines.push(
      "| endpoints | health checks | heap B/endpoint | external B/endpoint | RSS B/endpoint | all READY in ms |",
    );
    lines.push("|---:|---|---:|---:|---:|---:|");
    for (const r of report.memory) {
      lines.push(
        `| ${r.endpoints} | ${r.healthCheck ? "on (Watch stream open)" : "off"} | ${fmt(r.heapBytesPerEndpoint)} | ${fmt(r.externalBytesPerEndpoint)} | ${fmt(r.rssBytesPerEndpoint)} | ${fmt(r.readyMs)} |`,
      );
    }
    lines.push(
      "",
      "A pool (connect eager) over that many READY endpoints, each one HTTP/2 connection to one tiny h2c server (one process, one listener per 127.0.0.1 port); growth of the client process after GC, divided by the endpoint count.",
      "",
    );
  }
  lines.push("## Clients", "");
  for (const [client, description] of Object.entries(report.clients))
    lines.push(`- **${client}**: ${description}`);
  lines.push("");
  const rerun = report.cells.filter((c) => (c.attempts ?? 1) > 1).length;
  lines.push(
    `Failed calls in all: ${report.errors}. Cells run again because other processes used more than ${report.settings.maxOtherLoad} cores during them: ${rerun} of ${report.cells.length}.`,
    "",
  );
  return lines.join("\n");
}

/** The client table (calls/s, paired ratios, every cell) as Markdown lines. */
function renderClientTable(report: BenchReport): string[] {
  const s = report.settings;
  const lines: string[] = [];
  for (const serverSet of SERVER_SETS) {
    lines.push(`## Calls/s ${SERVER_TITLES[serverSet]}`, "");
    lines.push(`| client | ${s.concurrencies.map((c) => `${c} in flight`).join(" | ")} |`);
    lines.push(`|---|${s.concurrencies.map(() => "---:").join("|")}|`);
    for (const client of CLIENTS_PER_SET[serverSet]) {
      const cells = s.concurrencies.map((c) => {
        const row = report.summary.find(
          (r) => r.serverSet === serverSet && r.client === client && r.concurrency === c,
        );
        return row ? fmtSpread(row.callsPerSecond) : "–";
      });
      lines.push(`| ${client} | ${cells.join(" | ")} |`);
    }
    lines.push("");
  }
  lines.push("## Ratios, paired per repeat (min / **median** / max)", "");
  lines.push(
    "Throughput: pool-rr's calls/s ÷ the other client's. CPU: the other client's CPU µs/call ÷ pool-rr's. Above 1, the pool is ahead.",
    "",
  );
  lines.push(
    "| servers | in flight | calls/s: pool ÷ stock-connect | calls/s: pool ÷ grpc-js | CPU/call: stock-connect ÷ pool | CPU/call: grpc-js ÷ pool |",
  );
  lines.push("|---|---:|---:|---:|---:|---:|");
  for (const r of report.ratios) {
    lines.push(
      `| ${r.serverSet} | ${r.concurrency} | ${fmtRatio(r.poolOverStockConnect)} | ${fmtRatio(r.poolOverGrpcJs)} | ${fmtRatio(r.cpuStockConnectOverPool)} | ${fmtRatio(r.cpuGrpcJsOverPool)} |`,
    );
  }
  lines.push("");
  lines.push("## Every cell (medians over repeats)", "");
  lines.push(
    "| servers | client | in flight | calls/s | p50 µs | p99 µs | client CPU µs/call | client RSS MB | server CPU µs/call | other load (cores) | errors |",
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of report.summary) {
    lines.push(
      `| ${r.serverSet} | ${r.client} | ${r.concurrency} | ${fmtSpread(r.callsPerSecond)} | ${fmt(r.p50Us.median)} | ${fmt(r.p99Us.median)} | ${fmt(r.cpuUsPerCall.median, 1)} | ${fmt(r.rssMb.median, 1)} | ${fmt(r.serverCpuUsPerCall.median, 1)} | ${fmt(r.otherLoadCores.max, 2)} | ${r.errors} |`,
    );
  }
  lines.push("");
  lines.push(
    `Client CPU is the client process's user+system time in the measured window ÷ calls; server CPU is the three server processes' (from /proc, 10 ms ticks) over the same window ÷ calls. "Other load" is the worst (max over repeats) CPU used in the window by everything else on the machine, in cores out of ${report.machine.cores}: above ~0.2 the cell shared the machine with someone else's work.`,
    "",
  );
  return lines;
}

/** The server table as Markdown lines. */
function renderServerTable(table: ServerTable): string[] {
  const lines: string[] = [];
  lines.push("## Servers: one server process each, loaded by the pool", "");
  lines.push(
    "Each server alone in its own process on its own loopback address, loaded by pool-rr (health checks off, `ipv4:` target of that one server) from its own process, closed loop. Server CPU is the server process's user+system time over the measured window ÷ calls (from /proc, 10 ms ticks); server RSS at the window's end.",
    "",
  );
  lines.push(
    "| server | in flight | calls/s | p50 µs | p99 µs | server CPU µs/call | server RSS MB | client CPU µs/call | other load (cores) | errors |",
  );
  lines.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of table.summary) {
    lines.push(
      `| ${r.server} | ${r.concurrency} | ${fmtSpread(r.callsPerSecond)} | ${fmt(r.p50Us.median)} | ${fmt(r.p99Us.median)} | ${fmtSpread(r.serverCpuUsPerCall, 1)} | ${fmt(r.serverRssMb.median, 1)} | ${fmt(r.clientCpuUsPerCall.median, 1)} | ${fmt(r.otherLoadCores.max, 2)} | ${r.errors} |`,
    );
  }
  lines.push("");
  const kinds = SERVER_RATIO_KINDS.filter((k) => table.ratios.some((r) => r.cpu[k] !== undefined));
  if (kinds.length > 0) {
    lines.push("### rng-server ÷ each other server, paired per repeat (min / **median** / max)", "");
    lines.push(
      "Server CPU per call: rng-server's ÷ the other's (below 1, rng-server is cheaper). Calls/s: rng-server's ÷ the other's (above 1, rng-server is ahead).",
      "",
    );
    lines.push(
      `| in flight | ${kinds.map((k) => `CPU/call ÷ ${k}`).join(" | ")} | ${kinds.map((k) => `calls/s ÷ ${k}`).join(" | ")} |`,
    );
    lines.push(`|---:|${kinds.map(() => "---:").join("|")}|${kinds.map(() => "---:").join("|")}|`);
    for (const r of table.ratios) {
      const cpu = kinds.map((k) => fmtRatio(r.cpu[k] ?? spread([])));
      const calls = kinds.map((k) => fmtRatio(r.callsPerSecond[k] ?? spread([])));
      lines.push(`| ${r.concurrency} | ${cpu.join(" | ")} | ${calls.join(" | ")} |`);
    }
    lines.push("");
  }
  lines.push("Servers:", "");
  for (const [server, description] of Object.entries(table.descriptions)) {
    lines.push(`- **${server}**: ${description}`);
  }
  lines.push("");
  return lines;
}
