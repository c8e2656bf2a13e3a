import type { MetricData, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { DataPointType } from "@opentelemetry/sdk-metrics";

/**
 * Unit words of OpenTelemetry's Prometheus compatibility rules, for the
 * UCUM units instruments use ("s" becomes "_seconds", "By" "_bytes").
 */
const UNIT_WORDS: Readonly<Record<string, string>> = {
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  GBy: "gigabytes",
  bit: "bits",
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "%": "percent",
};

/**
 * The Prometheus suffix of a unit, per OpenTelemetry's compatibility
 * rules: annotations (`{call}`) are dropped, known units become words,
 * `a/b` becomes `a_per_b`, `1` on a gauge becomes `ratio`; "" for none.
 */
export function unitSuffix(unit: string, gauge: boolean): string {
  const bare = unit.replace(/\{[^}]*\}/g, "").trim();
  if (bare === "") return "";
  if (bare === "1") return gauge ? "ratio" : "";
  const [per, by] = bare.split("/", 2);
  const word = (u: string | undefined) => (u === undefined || u === "" ? "" : (UNIT_WORDS[u] ?? u));
  const suffix = by === undefined ? word(per) : `${word(per)}_per_${UNIT_WORDS[by] ?? by}`;
  return suffix.replace(/[^a-zA-Z0-9_]/g, "_").replace(/^_+|_+$/g, "");
}

/** The name with its unit's suffix, unless the name already ends with it (`grpc.client.call.duration` + s). */
export function nameWithUnit(name: string, unit: string, gauge: boolean): string {
  const suffix = unitSuffix(unit, gauge);
  if (suffix === "") return name;
  const words = name.replace(/[^a-zA-Z0-9_:]/g, "_").split("_");
  // "..._total" counters keep their suffix last: insert the unit before it.
  const total = words.at(-1) === "total";
  const core = total ? words.slice(0, -1) : words;
  if (core.join("_").endsWith(`_${suffix}`) || core.join("_") === suffix) return name;
  return total ? `${core.join("_")}_${suffix}_total` : `${name}_${suffix}`;
}

/**
 * `metrics` with every metric renamed as OpenTelemetry's Prometheus
 * exporters name them (unit suffixes); `@opentelemetry/exporter-prometheus`
 * adds `_total` to counters but not units, so `grpc.server.call.duration`
 * would otherwise be scraped as `grpc_server_call_duration_bucket` instead
 * of `grpc_server_call_duration_seconds_bucket`.
 */
export function withUnitSuffixes(metrics: ResourceMetrics): ResourceMetrics {
  return {
    resource: metrics.resource,
    scopeMetrics: metrics.scopeMetrics.map((scope) => ({
      scope: scope.scope,
      metrics: scope.metrics.map((m): MetricData => {
        const gauge = m.dataPointType === DataPointType.GAUGE;
        const name = nameWithUnit(m.descriptor.name, m.descriptor.unit, gauge);
        return name === m.descriptor.name ? m : { ...m, descriptor: { ...m.descriptor, name } };
      }),
    })),
  };
}
