import type { Attributes, Meter } from "@opentelemetry/api";
import { type AttemptCount, attemptCount } from "./attempt-counts.js";
import { ATTR, statusName } from "./names.js";
import type { RecordedInstruments } from "./recorded-instruments.js";
import type { TelemetryMethod } from "./tracing.js";

/**
 * The per-call and per-attempt instruments of one pool (gRFC A66), with
 * each method's attributes made once. Each call records through its
 * {@link CallTelemetry}; the pool's telemetry makes one of these and
 * never hears back from the calls.
 */
export class CallMetrics {
  private readonly methods = new WeakMap<object, TelemetryMethod>();

  /**
   * @param instruments - the pool's histograms and counters.
   * @param targetAttrs - `grpc.target`.
   * @param targetLabel - `grpc.target`'s value.
   * @param attemptMeter - the meter attempts are counted on (the SDK's), or undefined when that metric is off.
   */
  constructor(
    private readonly instruments: RecordedInstruments,
    private readonly targetAttrs: Attributes,
    private readonly targetLabel: string,
    private readonly attemptMeter: Meter | undefined,
  ) {}

  /** The method's cached attributes and names, made on its first call. */
  method(method: { readonly parent: { readonly typeName: string }; readonly name: string }): TelemetryMethod {
    let m = this.methods.get(method);
    if (!m) {
      const full = `${method.parent.typeName}/${method.name}`;
      const base = { [ATTR.method]: full, ...this.targetAttrs };
      m = {
        service: method.parent.typeName,
        name: method.name,
        full,
        base,
        byStatus: [],
        attempts: this.attemptCount(full, base),
      };
      this.methods.set(method, m);
    }
    return m;
  }

  /** An attempt started (after name resolution, before the pick). */
  attemptStart(m: TelemetryMethod): void {
    m.attempts.value++;
  }

  /** The shared count of the method's attempts (`base`: its attributes), or one nobody reports when the metric is off. */
  private attemptCount(method: string, base: Attributes): AttemptCount {
    if (this.attemptMeter === undefined) return { attributes: base, value: 0 };
    return attemptCount(this.attemptMeter, method, this.targetLabel, base);
  }

  /** An attempt ended with `code` after `seconds`, having sent and received that many message bytes. */
  attemptEnd(m: TelemetryMethod, code: number, seconds: number, sent: number, rcvd: number): void {
    const attrs = statusAttrs(m, code);
    const i = this.instruments;
    i.attemptDuration.record(seconds, attrs);
    i.attemptSent.record(sent, attrs);
    i.attemptRcvd.record(rcvd, attrs);
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
    const i = this.instruments;
    i.callDuration.record(seconds, statusAttrs(m, code));
    if (retries + transparent === 0) return;
    i.callRetries.record(retries, m.base);
    i.callTransparentRetries.record(transparent, m.base);
    i.callRetryDelay.record(delayS, m.base);
  }

  /** A96 `grpc.client.call.hedges`: the hedges of a call that hedged (0 is not recorded). */
  callHedges(m: TelemetryMethod, hedges: number): void {
    this.instruments.callHedges.record(hedges, m.base);
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
