import type { CellResult, ClientKind } from "./cell.js";
import type { RepeatCell } from "./report.js";
import { type Spread, spread } from "./stats.js";
import type { TelemetryMicroResult } from "./telemetry-micro.js";

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

/** What OpenTelemetry costs the pool: the cells' ratios and the in-process work per call. */
export interface TelemetryCost {
  /** From the cells, per concurrency ([] when the telemetry cells did not run). */
  readonly rows: readonly TelemetryCostRow[];
  /** ns of telemetry work per call, by mode ([] without microbenchmarks). */
  readonly micro: readonly TelemetryMicroResult[];
}

/** The cost rows, from the cells and the microbenchmark. */
export function telemetryCost(
  cells: readonly RepeatCell[],
  concurrencies: readonly number[],
  micro: readonly TelemetryMicroResult[],
): TelemetryCost {
  const mine = cells.filter((c) => c.serverSet === "rng-server" && c.failure === undefined);
  if (!mine.some((c) => c.client === KINDS.metrics)) return { rows: [], micro };
  const rows = concurrencies.map((concurrency) => {
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
  return { rows, micro };
}

const ratio = (s: Spread) =>
  Number.isFinite(s.median) ? `${s.min.toFixed(2)} / **${s.median.toFixed(2)}** / ${s.max.toFixed(2)}` : "–";
const us = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");

/** The cost tables as Markdown ("" when neither ran). */
export function renderTelemetryCost(cost: TelemetryCost): string {
  const { rows, micro } = cost;
  const lines: string[] = [];
  if (micro.length > 0) {
    const ns = (mode: string) => micro.find((m) => m.mode === mode)?.nsPerCall ?? Number.NaN;
    lines.push(
      "## Telemetry work per call, in-process (ns, median of 5 rounds)",
      "",
      "What the pool's call path does for telemetry (startCall, attempt start, pick, attempt end, call end) on its own, without the network: the figure the cells' noise cannot resolve.",
      "",
      "| off | API only (no SDK) | SDK metrics | SDK tracing |",
      "|---:|---:|---:|---:|",
      `| ${ns("off").toFixed(0)} | ${ns("api").toFixed(0)} | ${ns("metrics").toFixed(0)} | ${ns("tracing").toFixed(0)} |`,
      "",
    );
    for (const r of rows) {
      const base = r.cpuUsPerCall.off * 1000;
      if (!Number.isFinite(base) || base <= 0) continue;
      lines.push(
        `At ${r.concurrency} in flight that is ${((100 * ns("api")) / base).toFixed(2)} % (API only), ${((100 * ns("metrics")) / base).toFixed(1)} % (metrics) and ${((100 * ns("tracing")) / base).toFixed(1)} % (tracing) of the pool's client CPU per call with telemetry off (${r.cpuUsPerCall.off.toFixed(1)} µs).`,
      );
    }
    lines.push("");
  }
  if (rows.length === 0) return lines.join("\n");
  lines.push(
    "## What OpenTelemetry costs the pool (against the rng-servers, paired per repeat: min / **median** / max)",
    "",
    "pool-otel-off: `telemetry: false`; pool-rr: the API only, no SDK (the default); pool-metrics: the SDK with the Prometheus reader, scraped every second; pool-tracing: a TracerProvider, every call traced. Targets: API only within noise of off; metrics on costs at most 10 % of calls/s at 64 in flight (ratio ≥ 0.90).",
    "",
    "| in flight | calls/s: API only ÷ off | calls/s: metrics ÷ API only | calls/s: tracing ÷ API only | CPU µs/call: off / API / metrics / tracing |",
    "|---:|---:|---:|---:|---:|",
  );
  for (const r of rows) {
    const c = r.cpuUsPerCall;
    lines.push(
      `| ${r.concurrency} | ${ratio(r.apiOverOff)} | ${ratio(r.metricsOverApi)} | ${ratio(r.tracingOverApi)} | ${us(c.off)} / ${us(c.api)} / ${us(c.metrics)} / ${us(c.tracing)} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
