/** The client table as Markdown: calls/s per server set, the paired ratios, every cell. */

import { CLIENTS_PER_SET, SERVER_SETS } from "../../harness/cell.js";
import type { BenchConfig } from "../../harness/config.js";
import { fmt, fmtRatio, fmtSpread } from "../../harness/format.js";
import { SERVER_TITLES } from "./summary.js";
import type { ClientsJson } from "./table.js";

/** The client table (calls/s, paired ratios, every cell, the clients in words) as Markdown. */
export function renderClientTable(report: ClientsJson, config: BenchConfig, cores: number): string {
  const s = config;
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
    `Client CPU is the client process's user+system time in the measured window ÷ calls; server CPU is the three server processes' (from /proc, 10 ms ticks) over the same window ÷ calls. "Other load" is the worst (max over repeats) CPU used in the window by everything else on the machine, in cores out of ${cores}: above ~0.2 the cell shared the machine with someone else's work.`,
    "",
  );
  lines.push("## Clients", "");
  for (const [client, description] of Object.entries(report.clients))
    lines.push(`- **${client}**: ${description}`);
  lines.push("");
  const rerun = report.cells.filter((c) => (c.attempts ?? 1) > 1).length;
  const maxOtherLoad = Number.isFinite(config.maxOtherLoad) ? config.maxOtherLoad : "off";
  lines.push(
    `Cells run again because other processes used more than ${maxOtherLoad} cores during them: ${rerun} of ${report.cells.length}.`,
    "",
  );
  return lines.join("\n");
}
