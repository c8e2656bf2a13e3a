import {
  type Attributes,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
} from "@opentelemetry/api";
import type { DetectionMethod, OutlierSweepStats, UnenforcedReason } from "../health/outlier-detection.js";
import { CallMetrics } from "./call-metrics.js";
import { CallTelemetry } from "./call-telemetry.js";
import { withDisabledMetrics } from "./disabled-metrics.js";
import { ATTR, METRIC, resolutionFailureReason } from "./names.js";
import { NO_POLICY_TELEMETRY, type PolicyTelemetry, policyInstruments } from "./policy-instruments.js";
import {
  cached,
  NO_SUBCHANNEL_TELEMETRY,
  observeGauges,
  type SubchannelTelemetry,
  subchannelInstruments,
  type TelemetrySources,
} from "./pool-instruments.js";
import type { PoolTelemetryOptions } from "./pool-telemetry-options.js";
import { createRecordedInstruments, type RecordedInstruments } from "./recorded-instruments.js";
import { PoolTracing } from "./tracing.js";

/** The meter's name and version (gRFC A66: name the library). */
export const INSTRUMENTATION_SCOPE = { name: "@rngbalance/dns-pool", version: "0.1.0" } as const;

const NO_METER_PROVIDER: MeterProvider = { getMeter: () => createNoopMeter() };
/** A proxy with no delegate: the no-op tracer, even after an SDK registers globally. */
const NO_TRACER_PROVIDER = new ProxyTracerProvider();

/**
 * One pool's telemetry, the API its parts record through: instruments
 * created once (see recorded-instruments.ts and pool-instruments.ts) and
 * attributes bound up front, so a call costs a few records and no attribute
 * objects. When no SDK is installed, `metricsOn` is false and the call path
 * skips every record (gRFC A66: no MeterProvider, no cost).
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
  /** The built-in policies' instruments (gRFC A78), for their `PolicyContext`. */
  readonly policy: PolicyTelemetry;
  private readonly meter: Meter;
  /** `grpc.target`'s value. */
  private readonly targetLabel: string;
  private readonly targetAttrs: Attributes;
  /** Calls' and attempts' instruments, recorded through each call's {@link CallTelemetry}. */
  private readonly calls: CallMetrics;
  private readonly instruments: RecordedInstruments;
  private unobserve: () => void = () => {};
  private readonly endpointLabel: boolean;
  private readonly resolvedOk: Attributes;
  private readonly failedByReason = new Map<string, Attributes>();
  /** Ejection counters' attributes, by method (and reason). */
  private readonly ejectionAttrs = new Map<string, Attributes>();

  /**
   * @param target - the pool's target, for `grpc.target`.
   * @param options - the `telemetry` option.
   * @param sources - what the gauges read; or leave it out and call {@link PoolTelemetry.observe} later.
   */
  constructor(target: string, option: false | PoolTelemetryOptions, sources?: TelemetrySources) {
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
    this.targetLabel = options.targetLabel ?? target;
    this.targetAttrs = { [ATTR.target]: this.targetLabel };
    this.tracing = new PoolTracing(options);
    const m = this.meter;
    this.instruments = createRecordedInstruments(m);
    this.resolvedOk = { ...this.targetAttrs, [ATTR.result]: "ok" };
    this.subchannel = this.metricsOn ? subchannelInstruments(m, this.targetAttrs) : NO_SUBCHANNEL_TELEMETRY;
    this.policy = this.metricsOn ? policyInstruments(m, this.targetAttrs) : NO_POLICY_TELEMETRY;
    // Attempts are counted on the SDK's meter itself, shared with the other pools on it.
    const attemptMeter = this.metricsOn && !disabled.includes(METRIC.attemptStarted) ? meter : undefined;
    this.calls = new CallMetrics(this.instruments, this.targetAttrs, this.targetLabel, attemptMeter);
    this.endpointLabel = options.endpointLabel === true;
    if (sources) this.observe(sources);
  }

  /**
   * Starts the gauges, reading `sources` (the pool's endpoints and queue,
   * made after the telemetry). Once; a no-op when metrics are off.
   */
  observe(sources: TelemetrySources): void {
    if (!this.metricsOn) return;
    this.unobserve();
    this.unobserve = observeGauges(this.meter, this.targetAttrs, sources, this.endpointLabel);
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
    return new CallTelemetry(this.calls, this.calls.method(method), this.metricsOn, tracer);
  }

  /** A call waited `seconds` for a READY endpoint; `ok` when it got one. */
  queueWaited(seconds: number, ok: boolean): void {
    if (!this.metricsOn) return;
    this.instruments.queueDuration.record(
      seconds,
      ok ? this.resolvedOk : { ...this.targetAttrs, [ATTR.result]: "failed" },
    );
  }

  /** A resolution succeeded. */
  resolved(): void {
    this.instruments.resolutions.add(1, this.resolvedOk);
  }

  /** A resolution failed with `error`. */
  resolutionFailed(error: unknown): void {
    const reason = resolutionFailureReason(error);
    let attrs = this.failedByReason.get(reason);
    if (!attrs) {
      attrs = { ...this.targetAttrs, [ATTR.result]: "failed", [ATTR.reason]: reason };
      this.failedByReason.set(reason, attrs);
    }
    this.instruments.resolutions.add(1, attrs);
  }

  /**
   * An outlier-detection sweep's counts (gRFC A91): ejections by
   * `grpc.lb.outlier_detection.detection_method`, outliers left in by
   * method and `grpc.lb.outlier_detection.unenforced_reason`.
   */
  outlierSweep(stats: OutlierSweepStats): void {
    for (const method of DETECTION_METHODS) {
      const enforced = stats.enforced[method];
      if (enforced > 0) {
        const attrs = cached(this.ejectionAttrs, method, () => ({
          ...this.targetAttrs,
          [ATTR.detectionMethod]: method,
        }));
        this.instruments.ejectionsEnforced.add(enforced, attrs);
      }
      for (const reason of UNENFORCED_REASONS) {
        const unenforced = stats.unenforced[method][reason];
        if (unenforced === 0) continue;
        const attrs = cached(this.ejectionAttrs, `${method}|${reason}`, () => ({
          ...this.targetAttrs,
          [ATTR.detectionMethod]: method,
          [ATTR.unenforcedReason]: reason,
        }));
        this.instruments.ejectionsUnenforced.add(unenforced, attrs);
      }
    }
  }

  /** Unregisters the gauges' callbacks, so a closed pool is not kept alive by the meter. */
  close(): void {
    this.unobserve();
  }
}

const DETECTION_METHODS: readonly DetectionMethod[] = ["success_rate", "failure_percentage"];
const UNENFORCED_REASONS: readonly UnenforcedReason[] = ["enforcement_percentage", "max_ejection_overflow"];
