import type { CellResult, ClientKind } from "./cell.js";
import type { RepeatCell } from "./report.js";
import { type Spread, spread } from "./stats.js";

/** What OpenTelemetry costs the pool at one concurrency, against the rng-servers, paired per repeat. */
export interface TelemetryCostRow {
  readonly concurrency: number;
  /** pool-rr (the API, no SDK) calls/s ÷ pool-otel-off's: 1 means the no-op API costs nothing. */
  readonly apiOverOff: Spread;
  /** pool-metrics calls/s ÷ pool-rr's: the SDK with a Prometheus reader. */
  readonly metricsOverApi: Spread;
  /** pool-tracing calls/s ÷ pool-rr's: spans per call and attempt, exported. */
  readonly tracingOverApi: Spread;
  /** Client CPU µs per call (median over repeats) of each. */
  readonly cpuUsPerCall: Readonly<Record<"off" | "api" | "metrics" | "tracing", number>>;
}

const KINDS = {
  off: "pool-otel-off",
  api: "pool-rr",
  metrics: "pool-metrics",
  tracing: "pool-tracing",
} as const;

/** The cost rows, or [] when the telemetry cells did not run. */
export function telemetryCost(
  cells: readonly RepeatCell[],
  concurrencies: readonly number[],
): TelemetryCostRow[] {
  const mine = cells.filter((c) => c.serverSet === "rng-server" && c.failure === undefined);
  if (!mine.some((c) => c.client === KINDS.metrics)) return [];
  return concurrencies.map((concurrency) => {
    const at = mine.filter((c) => c.concurrency === concurrency);
    const paired = (top: ClientKind, bottom: ClientKind) => {
      const values: number[] = [];
      for (const r of new Set(at.map((c) => c.repeat))) {
        const find = (client: ClientKind) => at.find((c) => c.repeat === r && c.client === client);
        const a = find(top);
        const b = find(bottom);
        if (a && b && b.callsPerSecond > 0) values.push(a.callsPerSecond / b.callsPerSecond);
      }
      return spread(values);
    };
    const cpu = (client: ClientKind) =>
      spread(at.filter((c) => c.client === client).map((c: CellResult) => c.cpuUsPerCall)).median;
    return {
      concurrency,
      apiOverOff: paired(KINDS.api, KINDS.off),
      metricsOverApi: paired(KINDS.metrics, KINDS.api),
      tracingOverApi: paired(KINDS.tracing, KINDS.api),
      cpuUsPerCall: {
        off: cpu(KINDS.off),
        api: cpu(KINDS.api),
        metrics: cpu(KINDS.metrics),
        tracing: cpu(KINDS.tracing),
      },
    };
  });
}

const ratio = (s: Spread) =>
  Number.isFinite(s.median) ? `${s.min.toFixed(2)} / **${s.median.toFixed(2)}** / ${s.max.toFixed(2)}` : "–";
const us = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");

/** The cost table as Markdown ("" when the telemetry cells did not run). */
export function renderTelemetryCost(rows: readonly TelemetryCostRow[]): string {
  if (rows.length === 0) return "";
  const lines = [
    "## What OpenTelemetry costs the pool (against the rng-servers, paired per repeat: min / **median** / max)",
    "",
    "pool-otel-off: `telemetry: false`; pool-rr: the API only, no SDK (the default); pool-metrics: the SDK with the Prometheus reader, scraped every second; pool-tracing: a TracerProvider, every call traced. Targets: API only within noise of off; metrics on costs at most 10 % of calls/s at 64 in flight (ratio ≥ 0.90).",
    "",
    "| in flight | calls/s: API only ÷ off | calls/s: metrics ÷ API only | calls/s: tracing ÷ API only | CPU µs/call: off / API / metrics / tracing |",
    "|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows) {
    const c = r.cpuUsPerCall;
    lines.push(
      `| ${r.concurrency} | ${ratio(r.apiOverOff)} | ${ratio(r.metricsOverApi)} | ${ratio(r.tracingOverApi)} | ${us(c.off)} / ${us(c.api)} / ${us(c.metrics)} / ${us(c.tracing)} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
