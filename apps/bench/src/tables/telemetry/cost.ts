/** What OpenTelemetry costs the pool, from the A/B runs, the tracing cells and the in-process microbenchmark; and its Markdown. */
import type { CellResult, ClientKind, RepeatCell } from "../../harness/cell.js";
import { type Spread, spread } from "../../harness/stats.js";
import type { AbMode, AbPhase, TelemetryAbResult } from "./ab.js";
import type { TelemetryMicroResult } from "./micro.child.js";

/** What OpenTelemetry costs the pool at one concurrency, against the rng-servers. */
export interface TelemetryCostRow {
  readonly concurrency: number;
  /** Rounds of the in-process A/B behind the first three ratios (0: it did not run). */
  readonly rounds: number;
  /** API only (no SDK) calls/s ÷ off's, paired per A/B round: 1 means the no-op API costs nothing. */
  readonly apiOverOff: Spread;
  /** SDK metrics (Prometheus reader, scraped) calls/s ÷ API only's, paired per A/B round. */
  readonly metricsOverApi: Spread;
  /** The same for client CPU per call: SDK metrics ÷ API only (above 1: metrics cost CPU). */
  readonly metricsCpuOverApi: Spread;
  /** SDK metrics without the two size histograms (`disabledMetrics`) calls/s ÷ API only's, paired per round. */
  readonly noSizesOverApi: Spread;
  /** SDK metrics ÷ API only, calls/s, in the run with the SDK's stock attribute hash (unpatched SDK). */
  readonly stockHashMetricsOverApi: Spread;
  /** The same run's client CPU per call: SDK metrics ÷ API only. */
  readonly stockHashMetricsCpuOverApi: Spread;
  /** pool-tracing calls/s ÷ pool-rr's, paired per repeat of the cells (separate processes). */
  readonly tracingOverApi: Spread;
  /** Client CPU µs per call (median): off / API / metrics from the A/B, tracing from its cells. */
  readonly cpuUsPerCall: Readonly<Record<"off" | "api" | "metrics" | "tracing", number>>;
}

/** What OpenTelemetry costs the pool: the A/B's and the cells' ratios, and the in-process work per call. */
export interface TelemetryCost {
  /** Per concurrency ([] when neither the A/B nor the tracing cells ran). */
  readonly rows: readonly TelemetryCostRow[];
  /** ns of telemetry work per call, by mode ([] without microbenchmarks). */
  readonly micro: readonly TelemetryMicroResult[];
}

/** The cost rows, from the A/B runs, the tracing cells and the microbenchmark. */
export function telemetryCost(
  ab: readonly TelemetryAbResult[],
  cells: readonly RepeatCell[],
  concurrencies: readonly number[],
  micro: readonly TelemetryMicroResult[],
): TelemetryCost {
  const mine = cells.filter((c) => c.serverSet === "rng-server" && c.failure === undefined);
  const tracingRan = mine.some((c) => c.client === "pool-tracing");
  if (ab.length === 0 && !tracingRan) return { rows: [], micro };
  const rows = concurrencies.map((concurrency): TelemetryCostRow => {
    const phasesOf = (stockHash: boolean) =>
      ab.find((r) => r.concurrency === concurrency && Boolean(r.stockHash) === stockHash)?.phases ?? [];
    const phases = phasesOf(false);
    const stockHashPhases = phasesOf(true);
    const roundsOf = (of: readonly AbPhase[]) => new Set(of.map((p) => p.round));
    /** `top` ÷ `bottom` for `figure`, paired per round of one A/B run's phases. */
    const pairedAb = (
      top: AbMode,
      bottom: AbMode,
      figure: "callsPerSecond" | "cpuUsPerCall",
      of: readonly AbPhase[] = phases,
    ) => {
      const values: number[] = [];
      for (const r of roundsOf(of)) {
        const a = of.find((p) => p.round === r && p.mode === top);
        const b = of.find((p) => p.round === r && p.mode === bottom);
        if (a && b && b[figure] > 0) values.push(a[figure] / b[figure]);
      }
      return spread(values);
    };
    const abCpu = (mode: AbMode) =>
      spread(phases.filter((p) => p.mode === mode).map((p) => p.cpuUsPerCall)).median;
    const at = mine.filter((c) => c.concurrency === concurrency);
    const tracing: number[] = [];
    for (const r of new Set(at.map((c) => c.repeat))) {
      const find = (client: ClientKind) => at.find((c) => c.repeat === r && c.client === client);
      const a = find("pool-tracing");
      const b = find("pool-rr");
      if (a && b && b.callsPerSecond > 0) tracing.push(a.callsPerSecond / b.callsPerSecond);
    }
    const tracingCpu = at.filter((c) => c.client === "pool-tracing").map((c: CellResult) => c.cpuUsPerCall);
    return {
      concurrency,
      rounds: roundsOf(phases).size,
      apiOverOff: pairedAb("api", "off", "callsPerSecond"),
      metricsOverApi: pairedAb("metrics", "api", "callsPerSecond"),
      metricsCpuOverApi: pairedAb("metrics", "api", "cpuUsPerCall"),
      noSizesOverApi: pairedAb("metrics-no-sizes", "api", "callsPerSecond"),
      stockHashMetricsOverApi: pairedAb("metrics", "api", "callsPerSecond", stockHashPhases),
      stockHashMetricsCpuOverApi: pairedAb("metrics", "api", "cpuUsPerCall", stockHashPhases),
      tracingOverApi: spread(tracing),
      cpuUsPerCall: {
        off: abCpu("off"),
        api: abCpu("api"),
        metrics: abCpu("metrics"),
        tracing: spread(tracingCpu).median,
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
      "What the pool's call path does for telemetry (startCall, attempt start, pick, attempt end, call end) on its own, without the network.",
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
    "## What OpenTelemetry costs the pool (against the rng-servers: min / **median** / max)",
    "",
    "Off, API only and SDK metrics: one client process holding four pools on the same three rng-servers, differing only in `telemetry` (`false`; `{}`, the default, with no SDK anywhere; an SDK MeterProvider with the Prometheus reader from `startTelemetry`, /metrics scraped every second; the same with `disabledMetrics` naming the two per-attempt size histograms). The SDK is @opentelemetry/sdk-metrics 3.1.1 with the workspace's patch to its attribute hash (patches/); \"stock hash\": API only and SDK metrics again, in a second process with the SDK's own hash put back, as an application with an unpatched SDK runs. They take turns in phases, the order rotated per round, and the ratios are paired per round: separate processes differ by ±15 % in CPU per call on this machine, which hides a 5-10 % cost. Tracing: the pool-tracing cells (a registered TracerProvider, every call traced) against pool-rr, paired per repeat. Targets: API only within noise of off; metrics on costs at most 10 % of calls/s at 64 in flight (ratio ≥ 0.90).",
    "",
    "| in flight | rounds | calls/s: API only ÷ off | calls/s: metrics ÷ API only | CPU/call: metrics ÷ API only | calls/s: metrics without sizes ÷ API only | stock hash: calls/s, metrics ÷ API only (CPU/call ratio) | calls/s: tracing ÷ API only | CPU µs/call: off / API / metrics / tracing |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const r of rows) {
    const c = r.cpuUsPerCall;
    lines.push(
      `| ${r.concurrency} | ${r.rounds} | ${ratio(r.apiOverOff)} | ${ratio(r.metricsOverApi)} | ${ratio(r.metricsCpuOverApi)} | ${ratio(r.noSizesOverApi)} | ${ratio(r.stockHashMetricsOverApi)} (${Number.isFinite(r.stockHashMetricsCpuOverApi.median) ? r.stockHashMetricsCpuOverApi.median.toFixed(2) : "–"}) | ${ratio(r.tracingOverApi)} | ${us(c.off)} / ${us(c.api)} / ${us(c.metrics)} / ${us(c.tracing)} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}
