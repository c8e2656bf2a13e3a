import type { Counter, Histogram, Meter } from "@opentelemetry/api";
import { COUNT_BUCKETS, LATENCY_BUCKETS_S, METRIC, SIZE_BUCKETS_BY } from "./names.js";

/**
 * The histograms and counters a pool records into as things happen
 * (OpenTelemetry's synchronous instruments), as opposed to its gauges,
 * which are read at collection (see pool-instruments.ts).
 */
export interface RecordedInstruments {
  /** gRFC A66 `grpc.client.attempt.duration`. */
  readonly attemptDuration: Histogram;
  /** gRFC A66 `grpc.client.attempt.sent_total_compressed_message_size`. */
  readonly attemptSent: Histogram;
  /** gRFC A66 `grpc.client.attempt.rcvd_total_compressed_message_size`. */
  readonly attemptRcvd: Histogram;
  /** gRFC A66 `grpc.client.call.duration`. */
  readonly callDuration: Histogram;
  /** Retries per call that retried (retryPolicy). */
  readonly callRetries: Histogram;
  /** Transparent retries per call that retried. */
  readonly callTransparentRetries: Histogram;
  /** Total retry backoff per call that retried, in seconds. */
  readonly callRetryDelay: Histogram;
  /** gRFC A96 hedges per call that hedged. */
  readonly callHedges: Histogram;
  /** How long calls waited for a READY endpoint, in seconds. */
  readonly queueDuration: Histogram;
  /** Resolutions of the target, ok or failed. */
  readonly resolutions: Counter;
  /** gRFC A91 `grpc.lb.outlier_detection.ejections_enforced`. */
  readonly ejectionsEnforced: Counter;
  /** gRFC A91 `grpc.lb.outlier_detection.ejections_unenforced`. */
  readonly ejectionsUnenforced: Counter;
}

/**
 * Creates the pool's {@link RecordedInstruments} on `m`, each with its unit,
 * its description and, for histograms, gRFC A66's bucket boundaries as
 * advice (an SDK View may still override them).
 */
export function createRecordedInstruments(m: Meter): RecordedInstruments {
  // One maker per kind of histogram: its unit and gRFC A66's bucket boundaries.
  const latency = (name: string, description: string) =>
    m.createHistogram(name, {
      unit: "s",
      advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_S] },
      description,
    });
  const size = (name: string, description: string) =>
    m.createHistogram(name, {
      unit: "By",
      advice: { explicitBucketBoundaries: [...SIZE_BUCKETS_BY] },
      description,
    });
  const count = (name: string, unit: string, description: string) =>
    m.createHistogram(name, { unit, advice: { explicitBucketBoundaries: [...COUNT_BUCKETS] }, description });
  return {
    attemptDuration: latency(METRIC.attemptDuration, "End-to-end time of an RPC attempt, the pick included."),
    attemptSent: size(
      METRIC.attemptSentSize,
      "Bytes of request messages per attempt (no framing, no metadata).",
    ),
    attemptRcvd: size(
      METRIC.attemptRcvdSize,
      "Bytes of response messages per attempt (no framing, no metadata).",
    ),
    callDuration: latency(
      METRIC.callDuration,
      "End-to-end time of an RPC from the application's view, retries included.",
    ),
    callRetries: count(
      METRIC.callRetries,
      "{retry}",
      "Retries per call (retryPolicy), recorded for calls that retried.",
    ),
    callTransparentRetries: count(
      METRIC.callTransparentRetries,
      "{transparent_retry}",
      "Transparent retries per call, recorded for calls that retried.",
    ),
    callRetryDelay: latency(
      METRIC.callRetryDelay,
      "Total retry backoff per call, recorded for calls that retried.",
    ),
    callHedges: count(
      METRIC.callHedges,
      "{hedge}",
      "Hedges per call (hedgingPolicy), recorded for calls that hedged.",
    ),
    queueDuration: latency(
      METRIC.queueDuration,
      "How long calls waited for a READY endpoint (only calls that waited).",
    ),
    resolutions: m.createCounter(METRIC.resolutions, {
      unit: "{resolution}",
      description: "Resolutions of the target: rngbalance.result ok or failed (with rngbalance.reason).",
    }),
    // gRFC A91's descriptions, as grpc-go words them.
    ejectionsEnforced: m.createCounter(METRIC.ejectionsEnforced, {
      unit: "{ejection}",
      description: "Number of outlier ejections enforced by detection method.",
    }),
    ejectionsUnenforced: m.createCounter(METRIC.ejectionsUnenforced, {
      unit: "{ejection}",
      description:
        "Number of unenforced outlier ejections due to either max_ejection_percentage or enforcement_percentage.",
    }),
  };
}
