import { performance } from "node:perf_hooks";
import {
  type Attributes,
  type Context,
  type Counter,
  context,
  createNoopMeter,
  type Histogram,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { grpcStatusName } from "@rngbalance/grpc-names";

/** gRFC A66 latency buckets, in seconds. */
const LATENCY_BUCKETS_S = [
  0, 0.00001, 0.00005, 0.0001, 0.0003, 0.0006, 0.0008, 0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.008, 0.01,
  0.013, 0.016, 0.02, 0.025, 0.03, 0.04, 0.05, 0.065, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3, 0.4, 0.5, 0.65,
  0.8, 1, 2, 5, 10, 20, 50, 100,
];
/** gRFC A66 size buckets, in bytes. */
const SIZE_BUCKETS_BY = [
  0, 1024, 2048, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864, 268435456, 1073741824,
  4294967296,
];

/** Options of {@link ServerTelemetry}. */
export interface ServerTelemetryOptions {
  /** Default: the global MeterProvider when the server starts (a no-op one without an SDK). */
  meterProvider?: MeterProvider;
  /** Default: the global TracerProvider, looked at per call. */
  tracerProvider?: TracerProvider;
}

/** Reads propagation headers from Node's incoming headers or a Fetch `Headers`. */
const HEADERS_GETTER: TextMapGetter<Record<string, string | string[] | undefined> | Headers> = {
  keys: (c) => (c instanceof Headers ? [...c.keys()] : Object.keys(c)),
  get: (c, key) => (c instanceof Headers ? (c.get(key) ?? undefined) : c[key]),
};

const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/**
 * One call being served: end it once, when its status is on the wire.
 * Handlers run inside `context`, so their spans are children of the call's.
 */
export interface ServerCall {
  /** The context with the server span: run the handler in it (`context.with`). */
  readonly context: Context;
  /**
   * The call ended with `code` (0 = OK), having received `rcvdBytes` and
   * sent `sentBytes` of messages (envelope payloads, no framing, no
   * metadata). Only the first call counts.
   */
  end(code: number, sentBytes: number, rcvdBytes: number, message?: string): void;
}

/**
 * A server's gRPC metrics (gRFC A66: `grpc.server.call.started`,
 * `.duration`, `.sent_total_compressed_message_size`,
 * `.rcvd_total_compressed_message_size`) and spans (a SERVER span per
 * call, continuing the client's trace from the request headers), through
 * `@opentelemetry/api` only.
 *
 * The hook for any code path that serves calls (connect-node's, through
 * `createConnectHandler`, or a fast path that bypasses it): `startCall()`
 * when the request's headers are in, `end()` when the status is written.
 */
export class ServerTelemetry {
  /** True when metrics are recorded (an SDK's MeterProvider is installed). */
  readonly metricsOn: boolean;
  private readonly started: Counter;
  private readonly duration: Histogram;
  private readonly sent: Histogram;
  private readonly rcvd: Histogram;
  private readonly byMethod = new Map<string, { base: Attributes; byStatus: Attributes[] }>();
  private readonly tracerProvider: TracerProvider;
  private readonly proxy: ProxyTracerProvider | undefined;
  private tracerValue: Tracer | undefined;

  /** @param options - providers; the global ones by default. */
  constructor(options: ServerTelemetryOptions = {}) {
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(
      "@rngbalance/connect-server",
      "0.1.0",
    );
    this.metricsOn = meter !== createNoopMeter();
    const latency = { unit: "s", advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S } };
    const size = { unit: "By", advice: { explicitBucketBoundaries: SIZE_BUCKETS_BY } };
    this.started = meter.createCounter("grpc.server.call.started", {
      unit: "{call}",
      description: "RPCs started, including those not completed.",
    });
    this.duration = meter.createHistogram("grpc.server.call.duration", {
      ...latency,
      description: "Time from the request's headers to the status being written.",
    });
    this.sent = meter.createHistogram("grpc.server.call.sent_total_compressed_message_size", {
      ...size,
      description: "Bytes of response messages per call (no framing, no metadata).",
    });
    this.rcvd = meter.createHistogram("grpc.server.call.rcvd_total_compressed_message_size", {
      ...size,
      description: "Bytes of request messages per call (no framing, no metadata).",
    });
    this.tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    this.proxy = this.tracerProvider instanceof ProxyTracerProvider ? this.tracerProvider : undefined;
  }

  /**
   * A call to `method` ("rng.Rng/Rng") begins, with the request's headers
   * (for the trace context). Undefined when neither metrics nor tracing are
   * on: then the call costs nothing more.
   */
  startCall(
    method: string,
    headers: Record<string, string | string[] | undefined> | Headers,
  ): ServerCall | undefined {
    const tracer = this.tracer();
    if (!this.metricsOn && tracer === undefined) return undefined;
    const attrs = this.attributes(method);
    if (this.metricsOn) this.started.add(1, attrs.base);
    const t0 = performance.now();
    let span: Span | undefined;
    let ctx = context.active();
    if (tracer) {
      const parent = propagation.extract(ROOT_CONTEXT, headers, HEADERS_GETTER);
      const slash = method.lastIndexOf("/");
      span = tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: {
            "rpc.system": "grpc",
            "rpc.service": method.slice(0, slash),
            "rpc.method": method.slice(slash + 1),
          },
        },
        parent,
      );
      ctx = trace.setSpan(parent, span);
    }
    let ended = false;
    return {
      context: ctx,
      end: (code, sentBytes, rcvdBytes, message) => {
        if (ended) return;
        ended = true;
        if (this.metricsOn) {
          let status = attrs.byStatus[code];
          if (status === undefined) {
            status = { ...attrs.base, "grpc.status": grpcStatusName(code) };
            attrs.byStatus[code] = status;
          }
          this.duration.record((performance.now() - t0) / 1000, status);
          this.sent.record(sentBytes, status);
          this.rcvd.record(rcvdBytes, status);
        }
        if (span) {
          span.setAttribute("rpc.grpc.status_code", code);
          // OpenTelemetry's RPC conventions: on the server, only these codes are errors.
          if (SERVER_ERROR_CODES.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message });
          span.end();
        }
      },
    };
  }

  private tracer(): Tracer | undefined {
    if (this.proxy !== undefined && this.proxy.getDelegate() === NOOP_TRACER_PROVIDER) return undefined;
    this.tracerValue ??= this.tracerProvider.getTracer("@rngbalance/connect-server", "0.1.0");
    return this.tracerValue;
  }

  private attributes(method: string) {
    let a = this.byMethod.get(method);
    if (!a) {
      a = { base: { "grpc.method": method }, byStatus: [] };
      this.byMethod.set(method, a);
    }
    return a;
  }
}

/** UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS. */
const SERVER_ERROR_CODES = new Set([2, 4, 12, 13, 14, 15]);
