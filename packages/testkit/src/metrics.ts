/**
 * Metrics in tests (`@rngbalance/testkit/metrics`): an OpenTelemetry SDK
 * MeterProvider whose reader the test collects from when it wants, and
 * lookups of what it collected. A subpath of its own, so the rest of the
 * testkit does not load the SDK.
 */
import type { Attributes } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";

/** A reader the test collects from when it wants (cumulative; no timer, nothing exported). */
export class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** A MeterProvider with a {@link CollectingReader}. */
export function testMeter(): { provider: MeterProvider; reader: CollectingReader } {
  const reader = new CollectingReader();
  return { provider: new MeterProvider({ readers: [reader] }), reader };
}

/** One metric's data points, with its descriptor's unit and (for histograms) bucket boundaries. */
export interface Collected {
  readonly unit: string;
  readonly points: DataPoint<number | Histogram>[];
}

/** Every metric the reader has now, by name. */
export async function collect(reader: MetricReader): Promise<Map<string, Collected>> {
  const { resourceMetrics } = await reader.collect();
  const out = new Map<string, Collected>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      out.set(metric.descriptor.name, {
        unit: metric.descriptor.unit,
        points: metric.dataPoints as DataPoint<number | Histogram>[],
      });
    }
  }
  return out;
}

/** The sum of a counter's points (or histogram counts) whose attributes include `match`. */
export function total(metrics: Map<string, Collected>, name: string, match: Attributes = {}): number {
  let sum = 0;
  for (const p of metrics.get(name)?.points ?? []) {
    if (!Object.entries(match).every(([k, v]) => p.attributes[k] === v)) continue;
    sum += typeof p.value === "number" ? p.value : p.value.count;
  }
  return sum;
}

/** The histogram points of a metric whose attributes include `match`. */
export function histograms(
  metrics: Map<string, Collected>,
  name: string,
  match: Attributes = {},
): Histogram[] {
  return (metrics.get(name)?.points ?? [])
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .map((p) => p.value as Histogram);
}
