import type { Counter, Histogram, Meter } from "@opentelemetry/api";
import type { OutlierSweepStats } from "../health/outlier-detection.js";
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
  /** How long calls waited for a READY endpoint, in seconds. */
  readonly queueDuration: Histogram;
  /** Resolutions of the target, ok or failed. */
  readonly resolutions: Counter;
  /** Outlier detection's counts (gRFC A91), one counter per {@link OutlierSweepStats} field. */
  readonly ejections: Record<keyof OutlierSweepStats, Counter>;
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
  const ejection = (name: string, description: string) =>
    m.createCounter(name, { unit: "{ejection}", description });
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
    queueDuration: latency(
      METRIC.queueDuration,
      "How long calls waited for a READY endpoint (only calls that waited).",
    ),
    resolutions: m.createCounter(METRIC.resolutions, {
      unit: "{resolution}",
      description: "Resolutions of the target: rngbalance.result ok or failed (with rngbalance.reason).",
    }),
    ejections: {
      enforced: ejection(METRIC.ejectionsEnforced, "Enforced ejections, any outlier type."),
      overflow: ejection(METRIC.ejectionsOverflow, "Ejections not made: max ejection percentage."),
      enforcedSuccessRate: ejection(METRIC.ejectionsEnforcedSuccessRate, "Enforced success-rate ejections."),
      detectedSuccessRate: ejection(METRIC.ejectionsDetectedSuccessRate, "Detected success-rate outliers."),
      enforcedFailurePercentage: ejection(
        METRIC.ejectionsEnforcedFailurePercentage,
        "Enforced failure-percentage ejections.",
      ),
      detectedFailurePercentage: ejection(
        METRIC.ejectionsDetectedFailurePercentage,
        "Detected failure-percentage outliers.",
      ),
    },
  };
}
