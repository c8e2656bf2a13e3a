import { performance } from "node:perf_hooks";
import { ConnectError } from "@connectrpc/connect";
import type { Attributes, Context, Span, Tracer } from "@opentelemetry/api";
import type { CallMetrics } from "./call-metrics.js";
import {
  endSpan,
  injectTraceContext,
  startAttemptSpan,
  startCallSpan,
  type TelemetryMethod,
} from "./tracing.js";

/** Message bytes of the attempt in flight, written by the transport that ran it. */
export interface MessageSizes {
  /** Bytes of request messages sent (no framing, no metadata). */
  sent: number;
  /** Bytes of response messages received. */
  rcvd: number;
  /**
   * Called by the fast unary paths when response headers that do not end
   * the call arrive (a hedged call commits to its attempt then). Optional.
   */
  onHeaders?: (() => void) | undefined;
}

/** What a call's telemetry needs of the endpoint an attempt went to. */
export interface TracedEndpoint {
  /** `server.address`, `server.port` of the pod. */
  readonly peerAttributes: Attributes;
}

/**
 * One call's metrics and spans (gRFC A66's CallTracer and its attempt
 * tracers in one object): made only when metrics or tracing are on, so a
 * pool without an SDK allocates nothing per call. It is also the attempt's
 * {@link MessageSizes}: attempts of a call run one after another.
 */
export class CallTelemetry implements MessageSizes {
  /** The current attempt's request bytes. */
  sent = 0;
  /** The current attempt's response bytes. */
  rcvd = 0;
  private readonly startedAt = performance.now();
  private attemptStartedAt = 0;
  private attemptOpen = false;
  private attempts = 0;
  private retries = 0;
  private transparentRetries = 0;
  private retryDelayMs = 0;
  private hedges = 0;
  private nextIsTransparent = false;
  private callSpan: Span | undefined;
  private callContext: Context | undefined;
  private attemptSpan: Span | undefined;
  private attemptContext: Context | undefined;

  /**
   * @param telemetry - the pool's call and attempt instruments.
   * @param m - the method's cached attributes.
   * @param metered - record metrics (an SDK is installed).
   * @param tracer - make spans, or undefined for none.
   */
  constructor(
    private readonly telemetry: CallMetrics,
    private readonly m: TelemetryMethod,
    private readonly metered: boolean,
    private readonly tracer: Tracer | undefined,
  ) {
    if (tracer) [this.callSpan, this.callContext] = startCallSpan(tracer, m);
  }

  /** An attempt starts (before its pick, so its duration includes the pick). */
  attemptStart(): void {
    this.attemptStartedAt = performance.now();
    this.attemptOpen = true;
    this.sent = 0;
    this.rcvd = 0;
    if (this.metered) this.telemetry.attemptStart(this.m);
  }

  /**
   * The attempt's endpoint is picked: its span starts, naming the pod.
   * Returns the request headers to send: `header` itself, or with the
   * attempt's trace context when tracing.
   */
  picked(
    endpoint: TracedEndpoint,
    header: ConstructorParameters<typeof Headers>[0] | undefined,
    queued: boolean,
  ): ConstructorParameters<typeof Headers>[0] | undefined {
    if (!this.tracer || !this.callContext) return header;
    [this.attemptSpan, this.attemptContext] = startAttemptSpan(
      this.tracer,
      this.callContext,
      this.m,
      endpoint.peerAttributes,
      this.attempts,
      this.nextIsTransparent,
    );
    if (queued) this.attemptSpan.addEvent("Delayed LB pick complete");
    return injectTraceContext(this.attemptContext, header);
  }

  /** The attempt ended, with `error` or without. */
  attemptEnd(error: ConnectError | undefined): void {
    if (!this.attemptOpen) return;
    this.attemptOpen = false;
    this.attempts++;
    const code = error ? error.code : 0;
    if (this.metered) {
      const seconds = (performance.now() - this.attemptStartedAt) / 1000;
      this.telemetry.attemptEnd(this.m, code, seconds, this.sent, this.rcvd);
    }
    if (this.attemptSpan) {
      endSpan(this.attemptSpan, code, error?.rawMessage);
      this.attemptSpan = undefined;
    }
  }

  /** Another attempt follows: `transparent` (never reached a server) or per the retry policy after `delayMs`. */
  retry(kind: "transparent" | "policy", delayMs: number, error: ConnectError, address: string): void {
    this.nextIsTransparent = kind === "transparent";
    if (kind === "transparent") this.transparentRetries++;
    else {
      this.retries++;
      this.retryDelayMs += delayMs;
    }
    this.callSpan?.addEvent(kind === "transparent" ? "transparent_retry" : "retry", {
      "rpc.grpc.status_code": error.code,
      "server.address": address,
      ...(kind === "policy" ? { "rngbalance.retry.delay_ms": delayMs } : {}),
    });
  }

  /**
   * An attempt of a hedged call, which may run beside others: it has its
   * own start time, message sizes and span (instead of the call's single
   * current attempt). `kind`: the first attempt, a hedge, or a transparent
   * replacement of one that never reached a server. End it with
   * {@link ConcurrentAttempt.end}.
   */
  concurrentAttempt(kind: "first" | "hedge" | "transparent"): ConcurrentAttempt {
    if (kind === "hedge") this.hedges++;
    else if (kind === "transparent") this.transparentRetries++;
    if (kind !== "first") this.callSpan?.addEvent(kind === "hedge" ? "hedge" : "transparent_retry");
    if (this.metered) this.telemetry.attemptStart(this.m);
    return new ConcurrentAttempt(this, kind === "transparent");
  }

  /** A {@link ConcurrentAttempt} was picked: its span, and the headers to send. */
  concurrentPicked(
    attempt: ConcurrentAttempt,
    endpoint: TracedEndpoint,
    header: ConstructorParameters<typeof Headers>[0] | undefined,
    queued: boolean,
  ): ConstructorParameters<typeof Headers>[0] | undefined {
    if (!this.tracer || !this.callContext) return header;
    const [span, ctx] = startAttemptSpan(
      this.tracer,
      this.callContext,
      this.m,
      endpoint.peerAttributes,
      this.attempts++,
      attempt.transparent,
    );
    attempt.span = span;
    if (queued) span.addEvent("Delayed LB pick complete");
    return injectTraceContext(ctx, header);
  }

  /** A {@link ConcurrentAttempt} ended. */
  concurrentEnd(attempt: ConcurrentAttempt, error: ConnectError | undefined): void {
    const code = error ? error.code : 0;
    if (this.metered) {
      const seconds = (performance.now() - attempt.startedAt) / 1000;
      this.telemetry.attemptEnd(this.m, code, seconds, attempt.sent, attempt.rcvd);
    }
    if (attempt.span) {
      endSpan(attempt.span, code, error?.rawMessage);
      attempt.span = undefined;
    }
  }

  /** The call ended: its duration, retries and span. An attempt still open (a failed pick) ends with it. */
  end(err: unknown): void {
    const error = err === undefined ? undefined : err instanceof ConnectError ? err : ConnectError.from(err);
    this.attemptEnd(error);
    const code = error ? error.code : 0;
    if (this.metered) {
      const seconds = (performance.now() - this.startedAt) / 1000;
      this.telemetry.callEnd(
        this.m,
        code,
        seconds,
        this.retries,
        this.transparentRetries,
        this.retryDelayMs / 1000,
      );
      if (this.hedges > 0) this.telemetry.callHedges(this.m, this.hedges);
    }
    if (this.callSpan) endSpan(this.callSpan, code, error?.rawMessage);
  }
}

/** One attempt of a hedged call: see {@link CallTelemetry.concurrentAttempt}. */
export class ConcurrentAttempt implements MessageSizes {
  /** Request bytes sent. */
  sent = 0;
  /** Response bytes received. */
  rcvd = 0;
  /** When it started (performance.now()). */
  readonly startedAt = performance.now();
  /** Its span, once picked, while tracing. */
  span: Span | undefined;
  /** Set by the call runner: the attempt's response headers arrived. */
  onHeaders: (() => void) | undefined;
  private ended = false;

  constructor(
    private readonly call: CallTelemetry,
    /** A transparent replacement of an attempt that never reached a server. */
    readonly transparent: boolean,
  ) {}

  /** The endpoint is picked: returns the headers to send (with the trace context when tracing). */
  picked(
    endpoint: TracedEndpoint,
    header: ConstructorParameters<typeof Headers>[0] | undefined,
    queued: boolean,
  ): ConstructorParameters<typeof Headers>[0] | undefined {
    return this.call.concurrentPicked(this, endpoint, header, queued);
  }

  /** The attempt ended (later calls are ignored). */
  end(error: ConnectError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.call.concurrentEnd(this, error);
  }
}
