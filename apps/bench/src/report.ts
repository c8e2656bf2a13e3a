import {
  type CellResult,
  CLIENTS_PER_SET,
  type ClientKind,
  SERVER_KINDS,
  SERVER_SETS,
  type ServerKind,
  type ServerSet,
} from "./cell.js";
import type { MemoryResult } from "./micro.js";
import type { PickResult } from "./pick.js";
import { type Spread, spread } from "./stats.js";
import type { TelemetryCost } from "./telemetry-cost.js";

/** The machine the numbers come from. */
export interface MachineFacts {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  /** 1-minute load average when the run started and when it ended: other work on the machine skews figures. */
  readonly loadAverage: { readonly start: number; end: number };
}

/** One cell of one repeat. */
export interface RepeatCell extends CellResult {
  readonly repeat: number;
  /** Set when the child process itself failed; the cell then counts as one error. */
  readonly failure?: string;
  /** Runs of this cell (more than 1 when other load made it run again; the quietest is kept). */
  readonly attempts?: number;
}

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

/** One server of the server table at one concurrency, over the repeats. */
export interface ServerSummaryRow {
  readonly server: ServerKind;
  readonly concurrency: number;
  readonly callsPerSecond: Spread;
  readonly p50Us: Spread;
  readonly p99Us: Spread;
  /** The server process's CPU (user + system) per call, µs. */
  readonly serverCpuUsPerCall: Spread;
  readonly serverRssMb: Spread;
  /** The loading client's (pool-rr) CPU per call, µs. */
  readonly clientCpuUsPerCall: Spread;
  readonly otherLoadCores: Spread;
  readonly errors: number;
}

/** rng-server ÷ another server, paired per repeat, at one concurrency. */
export interface ServerRatioRow {
  readonly concurrency: number;
  /** Server CPU per call: rng-server's ÷ the other's (below 1: rng-server is cheaper). */
  readonly cpu: Readonly<Partial<Record<ServerKind, Spread>>>;
  /** Calls/s: rng-server's ÷ the other's (above 1: rng-server is ahead). */
  readonly callsPerSecond: Readonly<Partial<Record<ServerKind, Spread>>>;
}

/** The server table: each server alone, loaded by the pool. */
export interface ServerTable {
  readonly descriptions: Readonly<Partial<Record<ServerKind, string>>>;
  readonly cells: readonly RepeatCell[];
  readonly summary: readonly ServerSummaryRow[];
  readonly ratios: readonly ServerRatioRow[];
}

/** Everything one run measured; written as latest.json. */
export interface BenchReport {
  readonly startedAt: string;
  readonly tookSeconds: number;
  readonly machine: MachineFacts;
  readonly settings: {
    readonly repeats: number;
    readonly concurrencies: readonly number[];
    readonly warmupMs: number;
    readonly durationMs: number;
    readonly quick: boolean;
    readonly maxOtherLoad: number | "off";
  };
  /** The clients that ran, in words. */
  readonly clients: Readonly<Partial<Record<ClientKind, string>>>;
  readonly serverSets: Readonly<Record<ServerSet, readonly ClientKind[]>>;
  readonly cells: readonly RepeatCell[];
  readonly summary: readonly SummaryRow[];
  readonly ratios: readonly RatioRow[];
  /** What OpenTelemetry costs the pool (the telemetry A/B and the tracing cells), when they ran. */
  readonly telemetry?: TelemetryCost;
  readonly pick: PickResult | undefined;
  readonly memory: readonly MemoryResult[];
  /** The server table, unless skipped (`--tables clients`). */
  readonly servers?: ServerTable;
  /** Total failed calls; 0 for a clean run. */
  readonly errors: number;
}

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

const SERVER_TITLES: Readonly<Record<ServerSet, string>> = {
  "rng-server": "against 3 rng-server processes (our connect-node server)",
  "grpc-js-server": "against 3 grpc-js server processes",
};

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

const COLORS: Readonly<Record<ClientKind, string>> = {
  "pool-rr": "#2563eb",
  "pool-lr": "#60a5fa",
  "pool-connect": "#93c5fd",
  "pool-otel-off": "#1e3a8a",
  "pool-metrics": "#7c3aed",
  "pool-tracing": "#c084fc",
  "stock-connect": "#f59e0b",
  "grpc-js": "#10b981",
  "raw-http2": "#9ca3af",
};

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function kilo(n: number): string {
  return n >= 10_000
    ? `${Math.round(n / 1000)}k`
    : n >= 1000
      ? `${(n / 1000).toFixed(1)}k`
      : `${Math.round(n)}`;
}

/** A grouped bar chart of calls/s (median, min–max whiskers): one panel per server set. */
export function renderSvg(report: BenchReport): string {
  const concurrencies = report.settings.concurrencies;
  const panelW = 520;
  const panelH = 300;
  const left = 60;
  const top = 70;
  const gap = 40;
  const width = left + SERVER_SETS.length * (panelW + gap);
  const height = top + panelH + 70;
  const maxValue = Math.max(
    1,
    ...report.summary.map((r) => (Number.isFinite(r.callsPerSecond.max) ? r.callsPerSecond.max : 0)),
  );
  const step = niceStep(maxValue / 5);
  const yMax = Math.ceil(maxValue / step) * step;
  const y = (v: number) => top + panelH - (v / yMax) * panelH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${left}" y="22" font-size="16" font-weight="bold">Unary Rng calls/s by client and calls in flight (median of ${report.settings.repeats}, whiskers min–max)</text>`,
  );
  // Legend.
  const allClients = [...new Set(SERVER_SETS.flatMap((s) => CLIENTS_PER_SET[s]))];
  allClients.forEach((client, i) => {
    const x = left + i * 150;
    out.push(`<rect x="${x}" y="34" width="12" height="12" fill="${COLORS[client]}"/>`);
    out.push(`<text x="${x + 18}" y="45">${esc(client)}</text>`);
  });
  SERVER_SETS.forEach((serverSet, p) => {
    const x0 = left + p * (panelW + gap);
    const clients = CLIENTS_PER_SET[serverSet];
    out.push(`<g>`);
    out.push(
      `<text x="${x0 + panelW / 2}" y="${top + panelH + 50}" text-anchor="middle" font-weight="bold">${esc(SERVER_TITLES[serverSet])}</text>`,
    );
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      out.push(
        `<line x1="${x0}" y1="${y(v).toFixed(1)}" x2="${x0 + panelW}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`,
      );
      out.push(
        `<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#6b7280">${kilo(v)}</text>`,
      );
    }
    out.push(
      `<line x1="${x0}" y1="${top + panelH}" x2="${x0 + panelW}" y2="${top + panelH}" stroke="#111827"/>`,
    );
    const groupW = panelW / concurrencies.length;
    const barW = Math.min(40, (groupW - 20) / clients.length);
    concurrencies.forEach((c, g) => {
      const gx = x0 + g * groupW + (groupW - barW * clients.length) / 2;
      out.push(
        `<text x="${x0 + g * groupW + groupW / 2}" y="${top + panelH + 18}" text-anchor="middle">${c} in flight</text>`,
      );
      clients.forEach((client, i) => {
        const row = report.summary.find(
          (r) => r.serverSet === serverSet && r.client === client && r.concurrency === c,
        );
        if (!row || !Number.isFinite(row.callsPerSecond.median)) return;
        const bx = gx + i * barW;
        const { min, median, max } = row.callsPerSecond;
        out.push(
          `<rect x="${bx.toFixed(1)}" y="${y(median).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + panelH - y(median)).toFixed(1)}" fill="${COLORS[client]}"><title>${esc(`${client}, ${serverSet}, ${c} in flight: ${Math.round(median)} calls/s`)}</title></rect>`,
        );
        const cx = bx + (barW - 2) / 2;
        out.push(
          `<line x1="${cx.toFixed(1)}" y1="${y(min).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${y(max).toFixed(1)}" stroke="#111827"/>`,
        );
        out.push(
          `<text x="${cx.toFixed(1)}" y="${(y(max) - 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#374151">${kilo(median)}</text>`,
        );
      });
    });
    out.push(`</g>`);
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}

function niceStep(raw: number): number {
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}
