import { metrics } from "@opentelemetry/api";
import { OTLPMetricExporter as OTLPMetricExporterJson } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as OTLPMetricExporterProto } from "@opentelemetry/exporter-metrics-otlp-proto";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter as OTLPTraceExporterJson } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPTraceExporterProto } from "@opentelemetry/exporter-trace-otlp-proto";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, type MetricReader, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { readOtelEnv } from "./env.js";
import { type MetricsServer, startMetricsServer } from "./metrics-server.js";
import { registerTracerProvider } from "./tracing.js";

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** `service.name` of the resource, unless OTEL_SERVICE_NAME says otherwise. Required. */
  readonly serviceName: string;
  /** Serve Prometheus text at http://host:port/metrics ("0.0.0.0:9464", ":9464", port 0: any). Default: no endpoint. */
  readonly metricsAddr?: string;
  /** Where OTEL_* variables are read. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Where warnings (an unsupported OTEL_* value) go. Default: stderr. */
  readonly warn?: (message: string) => void;
  /**
   * Install the providers globally (`metrics.setGlobalMeterProvider`,
   * {@link registerTracerProvider}), where libraries find them. False
   * leaves the globals alone: the providers are only returned, for code
   * that passes them explicitly (a pool's `telemetry.meterProvider`), e.g.
   * to compare instrumented and uninstrumented pools in one process.
   * Default true.
   */
  readonly global?: boolean;
}

/** What {@link startTelemetry} set up. */
export interface Telemetry {
  /** "host:port" of the /metrics endpoint, if one was asked for (the real port when 0 was). */
  readonly metricsAddress: string | undefined;
  /** True when metrics go somewhere (/metrics or OTLP): a MeterProvider is installed. */
  readonly metrics: boolean;
  /** The MeterProvider, when {@link Telemetry.metrics} (global unless `global: false`). */
  readonly meterProvider: MeterProvider | undefined;
  /** How spans are exported: "otlp", "console" or "none" (no TracerProvider registered). */
  readonly traces: "otlp" | "console" | "none";
  /**
   * Flushes and stops everything: exporters, the /metrics server and its
   * connections. Afterwards nothing of it keeps the process alive. Idempotent.
   */
  shutdown(): Promise<void>;
}

/**
 * Installs the OpenTelemetry SDK for an app, once, before it creates its
 * pools and servers (libraries look for a MeterProvider when they start):
 * - metrics: a global MeterProvider with a Prometheus reader served at
 *   `metricsAddr`/metrics (OpenTelemetry's Prometheus names, e.g.
 *   `grpc_client_call_duration_seconds_bucket`), and/or an OTLP reader;
 * - traces: a TracerProvider (W3C trace context, AsyncLocalStorage
 *   context, see {@link registerTracerProvider}) exporting over OTLP or to
 *   the console;
 * OTLP is chosen by the standard variables (see {@link readOtelEnv}):
 * OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER,
 * OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  const env = options.env ?? process.env;
  const choice = readOtelEnv(env);
  const warn = options.warn ?? ((m: string) => process.stderr.write(`telemetry: ${m}\n`));
  for (const w of choice.warnings) warn(w);
  const detected = detectResources({ detectors: [envDetector] });
  const resource = resourceFromAttributes({ "service.name": options.serviceName }).merge(detected);

  const readers: MetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  if (options.metricsAddr !== undefined) {
    prometheus = new PrometheusExporter({ preventServerStart: true });
    readers.push(prometheus);
  }
  if (choice.otlpMetrics) {
    const exporter =
      choice.protocol.metrics === "http/json" ? new OTLPMetricExporterJson() : new OTLPMetricExporterProto();
    readers.push(new PeriodicExportingMetricReader({ exporter }));
  }
  const meterProvider = readers.length > 0 ? new MeterProvider({ resource, readers }) : undefined;
  const global = options.global ?? true;
  if (meterProvider && global) metrics.setGlobalMeterProvider(meterProvider);

  let tracerProvider: TracerProvider | undefined;
  if (choice.traces !== "none") {
    const exporter: SpanExporter =
      choice.traces === "console"
        ? new ConsoleSpanExporter()
        : choice.protocol.traces === "http/json"
          ? new OTLPTraceExporterJson()
          : new OTLPTraceExporterProto();
    tracerProvider = new TracerProvider({ resource, spanProcessors: [new BatchSpanProcessor({ exporter })] });
    if (global) registerTracerProvider(tracerProvider);
  }

  let server: MetricsServer | undefined;
  try {
    if (prometheus && options.metricsAddr !== undefined) {
      server = await startMetricsServer(prometheus, options.metricsAddr);
    }
  } catch (err) {
    await Promise.allSettled([meterProvider?.shutdown(), tracerProvider?.shutdown()]);
    if (global) metrics.disable();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    metricsAddress: server?.address,
    metrics: meterProvider !== undefined,
    meterProvider,
    traces: choice.traces,
    shutdown() {
      stopped ??= (async () => {
        await server?.close();
        await Promise.allSettled([meterProvider?.shutdown(), tracerProvider?.shutdown()]);
      })();
      return stopped;
    },
  };
}
