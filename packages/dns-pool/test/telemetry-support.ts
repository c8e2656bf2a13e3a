import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Attributes } from "@opentelemetry/api";
import {
  AggregationTemporality,
  type DataPoint,
  type Histogram,
  MeterProvider,
  MetricReader,
} from "@opentelemetry/sdk-metrics";
import { Rng, RngService } from "@rngbalance/proto";

/** A reader the test collects from when it wants (no timer, nothing exported). */
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

/** A connect-node h2c server with the Rng services; `unavailable` fails every call. */
export async function startRngServer(
  host: string,
  { unavailable = false, interceptors = [] as Interceptor[] } = {},
): Promise<{ address: string; headers: http2.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const fail = () => {
    if (unavailable) throw new ConnectError("fault injected", Code.Unavailable);
  };
  const headers: http2.IncomingHttpHeaders[] = [];
  const handler = connectNodeAdapter({
    interceptors,
    routes: (router) => {
      router.service(Rng, {
        rng() {
          fail();
          return { RN: 42n };
        },
      });
      router.service(RngService, {
        generate(req) {
          fail();
          return { rn: 42n, instance: `${host}:${req.delayMs}` };
        },
        async *generateStream(req) {
          fail();
          for (let i = 0; i < req.count; i++) yield { rn: 42n, instance: host, sequence: i };
        },
      });
    },
  });
  const server = http2.createServer((req, res) => {
    headers.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    address: `${host}:${(server.address() as AddressInfo).port}`,
    headers,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Pools under test may hold idle connections open; they close with the pool.
      }),
  };
}
