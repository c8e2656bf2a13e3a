/**
 * The OpenTelemetry SDK set-up that rng-server and rng-client share: a
 * Prometheus `/metrics` endpoint (`--metrics-addr`) and OTLP export of
 * metrics and traces from the standard OTEL_* variables. Only apps use it;
 * the libraries record through `@opentelemetry/api` alone.
 *
 * @packageDocumentation
 */
export { type OtelEnvChoice, type OtlpProtocol, readOtelEnv } from "./env.js";
export { type MetricsServer, parseHostPort, startMetricsServer } from "./metrics-server.js";
export { nameWithUnit, unitSuffix, withUnitSuffixes } from "./prometheus-naming.js";
export { type SdkAttributeHash, sdkAttributeHashes } from "./sdk-attribute-hash.js";
export { startTelemetry, type Telemetry, type TelemetryOptions } from "./start.js";
export { registerTracerProvider } from "./tracing.js";
