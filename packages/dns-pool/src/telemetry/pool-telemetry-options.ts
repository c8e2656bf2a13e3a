import type { MeterProvider } from "@opentelemetry/api";
import type { TracingOptions } from "./tracing.js";

/** The `telemetry` option of a pool. Every field is optional. */
export interface PoolTelemetryOptions extends TracingOptions {
  /**
   * Where instruments come from. Default: the global MeterProvider at the
   * time the pool is created (`metrics.getMeterProvider()`): a no-op one
   * unless the application installed an SDK before creating the pool.
   */
  meterProvider?: MeterProvider;
  /**
   * Label picks (`rngbalance.pool.picks`) with the endpoint's address
   * (`rngbalance.endpoint`). Off by default: its cardinality grows with
   * every pod the pool ever sees. Default false.
   */
  endpointLabel?: boolean;
  /**
   * The value of `grpc.target`. Default: the target as given. Set "other"
   * (gRFC A66) when many pools use targets with IP addresses.
   */
  targetLabel?: string;
  /**
   * Metrics not to record, by name (gRPC's `disableMetrics`, as grpc-java's
   * and grpc-go's OpenTelemetry plugins have): e.g. the two per-attempt size
   * histograms, `grpc.client.attempt.sent_total_compressed_message_size` and
   * `grpc.client.attempt.rcvd_total_compressed_message_size`. Each record
   * costs the stock @opentelemetry/sdk-metrics 2.12 about 1.2 µs (it hashes
   * the record's attributes) plus garbage, and a call makes four histogram
   * records (see the README's Telemetry section for the SDK patch that
   * brings a record to 125 ns); in that SDK a View with the Drop aggregation
   * still takes every record, a disabled metric makes none. An unknown name
   * throws INVALID_ARGUMENT when the pool is created. Default: none.
   */
  disabledMetrics?: readonly string[];
}
