import { Code, ConnectError } from "@connectrpc/connect";
import { createNoopMeter, type Meter } from "@opentelemetry/api";
import { METRIC } from "./names.js";

const NOOP_METER = createNoopMeter();
const KNOWN: ReadonlySet<string> = new Set(Object.values(METRIC));

/**
 * `meter`, except that instruments named in `disabled` are no-ops (gRPC's
 * `disableMetrics`, as grpc-java's and grpc-go's OpenTelemetry plugins
 * have). Why in the library and not an SDK View: in
 * @opentelemetry/sdk-metrics 2.12 a View that drops an instrument still has
 * the SDK take every record (and hash its attributes); a no-op instrument
 * costs nothing. An unknown name is a
 * mistake worth an error, not a metric silently kept.
 *
 * @throws ConnectError INVALID_ARGUMENT for a name this pool does not record.
 */
export function withDisabledMetrics(meter: Meter, disabled: readonly string[] | undefined): Meter {
  if (disabled === undefined || disabled.length === 0) return meter;
  for (const name of disabled) {
    if (!KNOWN.has(name)) {
      throw new ConnectError(
        `options.telemetry.disabledMetrics: "${name}" is not a metric the pool records; the names are ${[...KNOWN].join(", ")}`,
        Code.InvalidArgument,
      );
    }
  }
  const off = new Set(disabled);
  const pick = (name: string) => (off.has(name) ? NOOP_METER : meter);
  return {
    createGauge: (name, options) => pick(name).createGauge(name, options),
    createHistogram: (name, options) => pick(name).createHistogram(name, options),
    createCounter: (name, options) => pick(name).createCounter(name, options),
    createUpDownCounter: (name, options) => pick(name).createUpDownCounter(name, options),
    createObservableGauge: (name, options) => pick(name).createObservableGauge(name, options),
    createObservableCounter: (name, options) => pick(name).createObservableCounter(name, options),
    createObservableUpDownCounter: (name, options) => pick(name).createObservableUpDownCounter(name, options),
    addBatchObservableCallback: (callback, observables) =>
      meter.addBatchObservableCallback(callback, observables),
    removeBatchObservableCallback: (callback, observables) =>
      meter.removeBatchObservableCallback(callback, observables),
  };
}
