import {
  type Attributes,
  type Context,
  context,
  ProxyTracerProvider,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { type Address, isUnixAddress } from "../resolver/address.js";
import type { AttemptCount } from "./attempt-counts.js";

/** The tracing part of the `telemetry` option. */
export interface TracingOptions {
  /**
   * Where spans come from. Default: the global TracerProvider, looked at
   * on every call, so a provider registered after the pool was created
   * still gets spans; while none is registered, calls make no span at all.
   */
  tracerProvider?: TracerProvider;
}

/** One method's cached telemetry attributes and names. */
export interface TelemetryMethod {
  /** "rng.Rng" */
  readonly service: string;
  /** "Rng" */
  readonly name: string;
  /** "rng.Rng/Rng": `grpc.method`, and the span name. */
  readonly full: string;
  /** `grpc.method` and `grpc.target`. */
  readonly base: Attributes;
  /** `base` plus `grpc.status`, by status code, made on first use. */
  readonly byStatus: Attributes[];
  /** Attempts started (see attempt-counts.ts: an increment per attempt, no SDK record). */
  readonly attempts: AttemptCount;
}

/** The no-op provider a ProxyTracerProvider delegates to while nothing is registered. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

const SCOPE = { name: "@rngbalance/dns-pool", version: "0.1.0" };

/** Writes propagation headers into a Fetch `Headers`. */
const HEADERS_SETTER: TextMapSetter<Headers> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/**
 * A pool's spans, after OpenTelemetry's RPC conventions and gRFC A72: a
 * CLIENT span per call (`rng.Rng/Rng`) and a child span per attempt
 * (`Attempt.rng.Rng/Rng`) naming the picked pod (`server.address`,
 * `server.port`); the attempt's context goes out in the request headers
 * through the global propagator (W3C `traceparent` with the SDK's default).
 */
export class PoolTracing {
  private readonly provider: TracerProvider;
  private readonly proxy: ProxyTracerProvider | undefined;
  private tracerValue: Tracer | undefined;

  /** @param options - the `telemetry` option. */
  constructor(options: TracingOptions) {
    this.provider = options.tracerProvider ?? trace.getTracerProvider();
    this.proxy = this.provider instanceof ProxyTracerProvider ? this.provider : undefined;
  }

  /** The tracer, or undefined while the global provider is the no-op one (then: no span, no cost). */
  tracer(): Tracer | undefined {
    if (this.proxy !== undefined && this.proxy.getDelegate() === NOOP_TRACER_PROVIDER) return undefined;
    this.tracerValue ??= this.provider.getTracer(SCOPE.name, SCOPE.version);
    return this.tracerValue;
  }
}

/** The attributes every span of a method carries. */
export function rpcAttributes(m: TelemetryMethod): Attributes {
  return { "rpc.system": "grpc", "rpc.service": m.service, "rpc.method": m.name };
}

/** Starts a call's CLIENT span under the active context; returns it and its context. */
export function startCallSpan(tracer: Tracer, m: TelemetryMethod): [Span, Context] {
  const parent = context.active();
  const span = tracer.startSpan(m.full, { kind: SpanKind.CLIENT, attributes: rpcAttributes(m) }, parent);
  return [span, trace.setSpan(parent, span)];
}

/** `server.address` and `server.port` of an endpoint (a Unix socket has its path and no port). */
export function peerAttributes(address: Address): Attributes {
  if (isUnixAddress(address)) return { "server.address": address.path };
  return {
    "server.address": address.host,
    "server.port": address.port,
    "network.peer.address": address.host,
    "network.peer.port": address.port,
  };
}

/** Starts an attempt's span under the call's, naming the picked pod. */
export function startAttemptSpan(
  tracer: Tracer,
  callContext: Context,
  m: TelemetryMethod,
  peer: Attributes,
  previousAttempts: number,
  transparent: boolean,
): [Span, Context] {
  const span = tracer.startSpan(
    `Attempt.${m.full}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        ...rpcAttributes(m),
        ...peer,
        "previous-rpc-attempts": previousAttempts,
        "transparent-retry": transparent,
      },
    },
    callContext,
  );
  return [span, trace.setSpan(callContext, span)];
}

/** Headers with the span context of `ctx` injected (a copy: the caller's headers stay as given). */
export function injectTraceContext(ctx: Context, header: ConstructorParameters<typeof Headers>[0]): Headers {
  const headers = new Headers(header);
  propagation.inject(ctx, headers, HEADERS_SETTER);
  return headers;
}

/** Ends a span with its gRPC status: `rpc.grpc.status_code`, and ERROR status for any code but OK. */
export function endSpan(span: Span, code: number, message: string | undefined): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (code !== 0) span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}
