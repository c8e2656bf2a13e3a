/** The server table as Markdown: a row per server and concurrency, rng-server ÷ each other server. */
import { fmt, fmtRatio, fmtSpread } from "../../harness/format.js";
import { spread } from "../../harness/stats.js";
import { SERVER_RATIO_KINDS, type ServerTable } from "./summary.js";

/** The server table as Markdown. */
export function renderServerTable(table: ServerTable): string {
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
  return lines.join("\n");
}
