import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableCallback,
  ProxyTracerProvider,
} from "@opentelemetry/api";
import type { OutlierSweepStats } from "../health/outlier-detection.js";
import { CallTelemetry } from "./call-telemetry.js";
import { withDisabledMetrics } from "./disabled-metrics.js";
import {
  ATTR,
  COUNT_BUCKETS,
  LATENCY_BUCKETS_S,
  METRIC,
  resolutionFailureReason,
  SIZE_BUCKETS_BY,
  statusName,
} from "./names.js";
import {
  NO_SUBCHANNEL_TELEMETRY,
  observeGauges,
  type SubchannelTelemetry,
  subchannelInstruments,
  type TelemetrySources,
} from "./pool-instruments.js";
import { PoolTracing, type TelemetryMethod, type TracingOptions } from "./tracing.js";

/** The meter's name and version (gRFC A66: name the library). */
export const INSTRUMENTATION_SCOPE = { name: "@rngbalance/dns-pool", version: "0.1.0" } as const;

export type { SubchannelTelemetry, TelemetrySources } from "./pool-instruments.js";
export { NO_SUBCHANNEL_TELEMETRY } from "./pool-instruments.js";

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
   * costs the OpenTelemetry JS SDK about 1.6 µs (it hashes the record's
   * attributes) plus its garbage, and a call makes four histogram records;
   * in @opentelemetry/sdk-metrics 2.12 a View with the Drop aggregation
   * still takes every record, a disabled metric makes none. An unknown name
   * throws INVALID_ARGUMENT when the pool is created. Default: none.
   */
  disabledMetrics?: readonly string[];
}

const NO_METER_PROVIDER: MeterProvider = { getMeter: () => createNoopMeter() };
/** A proxy with no delegate: the no-op tracer, even after an SDK registers globally. */
const NO_TRACER_PROVIDER = new ProxyTracerProvider();

/**
 * One pool's instruments, created once with attributes bound up front, so
 * a call costs a few records and no attribute objects. When no SDK is
 * installed, `metricsOn` is false and the call path skips every record
 * (gRFC A66: no MeterProvider, no cost).
 */
export class PoolTelemetry {
  /** True when the meter is real (an SDK is installed). */
  readonly metricsOn: boolean;
  /**
   * True when message sizes are recorded (metrics on, and not both size
   * histograms disabled): where the pool cannot see wire bytes, counting
   * sizes costs a serialization per message.
   */
  readonly sizesOn: boolean;
  /** Call and attempt spans; on while a TracerProvider is registered. */
  readonly tracing: PoolTracing;
  /** The subchannels' instruments (gRFC A94). */
  readonly subchannel: SubchannelTelemetry;
  private readonly meter: Meter;
  private readonly targetAttrs: Attributes;
  private readonly methods = new WeakMap<object, TelemetryMethod>();
  private readonly seenMethods: TelemetryMethod[] = [];
  private readonly attemptDuration: Histogram;
  private readonly attemptSent: Histogram;
  private readonly attemptRcvd: Histogram;
  private readonly callDuration: Histogram;
  private readonly callRetries: Histogram;
  private readonly callTransparentRetries: Histogram;
  private readonly callRetryDelay: Histogram;
  private readonly queueDuration: Histogram;
  private readonly resolutions: Counter;
  private readonly outliers: Record<keyof OutlierSweepStats, Counter>;
  private unobserve: () => void = () => {};
  private readonly resolvedOk: Attributes;
  private readonly failedByReason = new Map<string, Attributes>();

  /**
   * @param target - the pool's target, for `grpc.target`.
   * @param options - the `telemetry` option.
   * @param sources - what the gauges read.
   */
  constructor(target: string, option: false | PoolTelemetryOptions, sources: TelemetrySources) {
    // `telemetry: false`: a no-op meter and no tracer, whatever is installed.
    const options =
      option === false ? { meterProvider: NO_METER_PROVIDER, tracerProvider: NO_TRACER_PROVIDER } : option;
    const provider = options.meterProvider ?? metrics.getMeterProvider();
    const meter = provider.getMeter(INSTRUMENTATION_SCOPE.name, INSTRUMENTATION_SCOPE.version);
    this.metricsOn = meter !== createNoopMeter();
    this.meter = withDisabledMetrics(meter, options.disabledMetrics);
    const disabled = options.disabledMetrics ?? [];
    this.sizesOn =
      this.metricsOn &&
      !(disabled.includes(METRIC.attemptSentSize) && disabled.includes(METRIC.attemptRcvdSize));
    const targetLabel = options.targetLabel ?? target;
    this.targetAttrs = { [ATTR.target]: targetLabel };
    this.tracing = new PoolTracing(options);
    const m = this.meter;
    const latency = { unit: "s", advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_S] } };
    const size = { unit: "By", advice: { explicitBucketBoundaries: [...SIZE_BUCKETS_BY] } };
    const count = (unit: string) => ({ unit, advice: { explicitBucketBoundaries: [...COUNT_BUCKETS] } });
    // Asynchronous, exported as the same monotonic sum: an attempt costs an
    // increment, not an SDK record (each record hashes its attributes).
    const attemptStarted = m.createObservableCounter(METRIC.attemptStarted, {
      unit: "{attempt}",
      description: "RPC attempts started, including those not completed.",
    });
    const seenMethods = this.seenMethods;
    let closed = false;
    const countAttempts: ObservableCallback = (result) => {
      for (const method of seenMethods) result.observe(method.started, method.base);
      // A closed pool's counts are final: reported once more, then the callback goes.
      if (closed) setImmediate(() => attemptStarted.removeCallback(countAttempts));
    };
    this.attemptDuration = m.createHistogram(METRIC.attemptDuration, {
      ...latency,
      description: "End-to-end time of an RPC attempt, the pick included.",
    });
    this.attemptSent = m.createHistogram(METRIC.attemptSentSize, {
      ...size,
      description: "Bytes of request messages per attempt (no framing, no metadata).",
    });
    this.attemptRcvd = m.createHistogram(METRIC.attemptRcvdSize, {
      ...size,
      description: "Bytes of response messages per attempt (no framing, no metadata).",
    });
    this.callDuration = m.createHistogram(METRIC.callDuration, {
      ...latency,
      description: "End-to-end time of an RPC from the application's view, retries included.",
    });
    this.callRetries = m.createHistogram(METRIC.callRetries, {
      ...count("{retry}"),
      description: "Retries per call (retryPolicy), recorded for calls that retried.",
    });
    this.callTransparentRetries = m.createHistogram(METRIC.callTransparentRetries, {
      ...count("{transparent_retry}"),
      description: "Transparent retries per call, recorded for calls that retried.",
    });
    this.callRetryDelay = m.createHistogram(METRIC.callRetryDelay, {
      ...latency,
      description: "Total retry backoff per call, recorded for calls that retried.",
    });
    this.queueDuration = m.createHistogram(METRIC.queueDuration, {
      ...latency,
      description: "How long calls waited for a READY endpoint (only calls that waited).",
    });
    this.resolutions = m.createCounter(METRIC.resolutions, {
      unit: "{resolution}",
      description: "Resolutions of the target: rngbalance.result ok or failed (with rngbalance.reason).",
    });
    this.resolvedOk = { ...this.targetAttrs, [ATTR.result]: "ok" };
    const ejection = (name: string, description: string) =>
      m.createCounter(name, { unit: "{ejection}", description });
    this.outliers = {
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
    };
    this.subchannel = this.metricsOn ? subchannelInstruments(m, this.targetAttrs) : NO_SUBCHANNEL_TELEMETRY;
    if (this.metricsOn) {
      const unobserve = observeGauges(m, this.targetAttrs, sources, options.endpointLabel === true);
      attemptStarted.addCallback(countAttempts);
      // The attempt counts are final once the pool is closed: one more collection reports them.
      this.unobserve = () => {
        unobserve();
        closed = true;
      };
    }
  }

  /**
   * A call's telemetry, or undefined when neither metrics nor tracing are
   * on: the call path then allocates and records nothing.
   */
  startCall(method: {
    readonly parent: { readonly typeName: string };
    readonly name: string;
  }): CallTelemetry | undefined {
    const tracer = this.tracing.tracer();
    if (!this.metricsOn && tracer === undefined) return undefined;
    return new CallTelemetry(this, this.method(method), this.metricsOn, tracer);
  }

  /** The method's cached attributes and names, made on its first call. */
  method(method: { readonly parent: { readonly typeName: string }; readonly name: string }): TelemetryMethod {
    let m = this.methods.get(method);
    if (!m) {
      const full = `${method.parent.typeName}/${method.name}`;
      m = {
        service: method.parent.typeName,
        name: method.name,
        full,
        base: { [ATTR.method]: full, ...this.targetAttrs },
        byStatus: [],
        started: 0,
      };
      this.methods.set(method, m);
      this.seenMethods.push(m);
    }
    return m;
  }

  /** An attempt started (after name resolution, before the pick). */
  attemptStart(m: TelemetryMethod): void {
    m.started++;
  }

  /** An attempt ended with `code` after `seconds`, having sent and received that many message bytes. */
  attemptEnd(m: TelemetryMethod, code: number, seconds: number, sent: number, rcvd: number): void {
    const attrs = statusAttrs(m, code);
    this.attemptDuration.record(seconds, attrs);
    this.attemptSent.record(sent, attrs);
    this.attemptRcvd.record(rcvd, attrs);
  }

  /** The call ended; retries are recorded only for calls that retried, as grpc-java does. */
  callEnd(
    m: TelemetryMethod,
    code: number,
    seconds: number,
    retries: number,
    transparent: number,
    delayS: number,
  ): void {
    this.callDuration.record(seconds, statusAttrs(m, code));
    if (retries + transparent === 0) return;
    this.callRetries.record(retries, m.base);
    this.callTransparentRetries.record(transparent, m.base);
    this.callRetryDelay.record(delayS, m.base);
  }

  /** A call waited `seconds` for a READY endpoint; `ok` when it got one. */
  queueWaited(seconds: number, ok: boolean): void {
    if (!this.metricsOn) return;
    this.queueDuration.record(
      seconds,
      ok ? this.resolvedOk : { ...this.targetAttrs, [ATTR.result]: "failed" },
    );
  }

  /** A resolution succeeded. */
  resolved(): void {
    this.resolutions.add(1, this.resolvedOk);
  }

  /** A resolution failed with `error`. */
  resolutionFailed(error: unknown): void {
    const reason = resolutionFailureReason(error);
    let attrs = this.failedByReason.get(reason);
    if (!attrs) {
      attrs = { ...this.targetAttrs, [ATTR.result]: "failed", [ATTR.reason]: reason };
      this.failedByReason.set(reason, attrs);
    }
    this.resolutions.add(1, attrs);
  }

  /** An outlier-detection sweep's counts (gRFC A91). */
  outlierSweep(stats: OutlierSweepStats): void {
    for (const key of Object.keys(stats) as (keyof OutlierSweepStats)[]) {
      if (stats[key] > 0) this.outliers[key].add(stats[key], this.targetAttrs);
    }
  }

  /** Unregisters the gauges' callbacks, so a closed pool is not kept alive by the meter. */
  close(): void {
    this.unobserve();
  }
}

/** The method's attributes with `grpc.status`, made once per status. */
function statusAttrs(m: TelemetryMethod, code: number): Attributes {
  let attrs = m.byStatus[code];
  if (attrs === undefined) {
    attrs = { ...m.base, [ATTR.status]: statusName(code) };
    m.byStatus[code] = attrs;
  }
  return attrs;
}
