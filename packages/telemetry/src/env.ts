/** What the standard OTEL_* variables ask for. */
export interface OtelEnvChoice {
  /** Export metrics over OTLP. */
  readonly otlpMetrics: boolean;
  /** Export traces: over OTLP, to the console, or not at all. */
  readonly traces: "otlp" | "console" | "none";
  /** The OTLP encoding of each signal. */
  readonly protocol: { readonly traces: OtlpProtocol; readonly metrics: OtlpProtocol };
  /** Problems worth a warning (an unsupported value is treated as the default). */
  readonly warnings: readonly string[];
}

/** OTLP over HTTP, protobuf (the specification's default) or JSON. */
export type OtlpProtocol = "http/protobuf" | "http/json";

const list = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");

/**
 * Reads OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER,
 * OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]ENDPOINT and _PROTOCOL.
 *
 * One difference from the specification, on purpose: an exporter left
 * unset means OTLP only when an OTLP endpoint is set, so an app started
 * with no OTEL_* variable exports nothing (and never retries a collector
 * at localhost:4318 that is not there). `otlp` set explicitly always exports.
 */
export function readOtelEnv(env: NodeJS.ProcessEnv): OtelEnvChoice {
  const warnings: string[] = [];
  const disabled = /^true$/i.test(env.OTEL_SDK_DISABLED?.trim() ?? "");
  const endpoint = (signal: string) =>
    Boolean(env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
  const exporters = (name: string, signal: string, supported: string[]) => {
    const asked = list(env[name]);
    for (const e of asked) {
      if (!supported.includes(e))
        warnings.push(`${name}=${e} is not supported here (${supported.join(", ")})`);
    }
    if (disabled || asked.includes("none")) return [];
    if (asked.length === 0) return endpoint(signal) ? ["otlp"] : [];
    return asked;
  };
  const protocol = (signal: string): OtlpProtocol => {
    const asked = (env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
    if (asked === undefined || asked === "" || asked === "http/protobuf") return "http/protobuf";
    if (asked === "http/json") return "http/json";
    warnings.push(`OTLP protocol "${asked}" is not supported here: using http/protobuf`);
    return "http/protobuf";
  };
  const traces = exporters("OTEL_TRACES_EXPORTER", "TRACES", ["otlp", "console", "none"]);
  const metrics = exporters("OTEL_METRICS_EXPORTER", "METRICS", ["otlp", "prometheus", "none"]);
  return {
    otlpMetrics: metrics.includes("otlp"),
    traces: traces.includes("otlp") ? "otlp" : traces.includes("console") ? "console" : "none",
    protocol: { traces: protocol("TRACES"), metrics: protocol("METRICS") },
    warnings,
  };
}
