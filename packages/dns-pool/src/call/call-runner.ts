import { performance } from "node:perf_hooks";
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, StreamResponse, UnaryResponse } from "@connectrpc/connect";
import { ConnectError } from "@connectrpc/connect";
import type { Picker, PickInfo } from "../balancer/picker.js";
import type { Endpoint } from "../connection/endpoint.js";
import { type Clock, preciseNow, sleep } from "../core/clock.js";
import type { PoolEventBus } from "../core/events.js";
import type { OutlierDetector } from "../health/outlier-detector.js";
import type { CallTelemetry } from "../telemetry/call-telemetry.js";
import type { PoolTelemetry } from "../telemetry/pool-telemetry.js";
import { binarySize, countSent } from "../telemetry/sizes.js";
import {
  connectionLossAsUnavailable,
  type Method,
  pickAvoiding,
  procedureOf,
  remainingTimeout,
  withHeaders,
} from "./call-helpers.js";
import type { EndpointSet } from "./endpoint-set.js";
import { AdaptiveHedgingDelay, type HedgingPolicy, runHedged } from "./hedging.js";
import type { PickQueue } from "./pick-queue.js";
import type { Retry, RetryState } from "./retry.js";
import { ExtraAttempts, ResetBudget } from "./retry-limits.js";

/** Limits that never refuse, for a hedging runner without throttle or budget. */
const NO_LIMITS = new ExtraAttempts(undefined, undefined);

/** Request headers as connect's Transport takes them (the Fetch API's HeadersInit). */
export type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** What a {@link CallRunner} runs calls with. */
export interface CallRunnerParts {
  /** The endpoints and their current picker. */
  readonly set: EndpointSet<Endpoint>;
  /** Where calls wait while no endpoint is READY. */
  readonly queue: PickQueue<Endpoint>;
  /** Retry decisions. */
  readonly retry: Retry;
  /** Outlier detection, counting outcomes; undefined when off. */
  readonly outliers: OutlierDetector<Endpoint> | undefined;
  /** For `pick` and `retry` events. */
  readonly events: PoolEventBus;
  /** Deadlines and retry delays. */
  readonly clock: Clock;
  /** The deadline of calls that set none, or undefined for none. */
  readonly defaultTimeoutMs: number | undefined;
  /** The pool's telemetry. */
  readonly telemetry: PoolTelemetry;
  /** Headers the policy adds to every call (e.g. weighted_round_robin asking for ORCA reports), or undefined. */
  readonly requestHeaders: Readonly<Record<string, string>> | undefined;
  /** gRFC A6 hedging of unary calls (defaults filled in), or undefined for none. */
  readonly hedging?: Required<HedgingPolicy> | undefined;
  /** The throttle and budget of policy retries and hedges; none when undefined. */
  readonly limits?: ExtraAttempts | undefined;
}

/**
 * Runs calls: pick (or wait in the queue), bookkeeping (in-flight counts,
 * outlier outcomes, the picker's `onDone`), and for unary calls the retry
 * loop. The hot path allocates nothing beyond the call itself and its
 * pick info (the headers and context values a picker may read) unless a
 * `pick` listener or an `onDone` picker asks for it.
 */
export class CallRunner {
  /** Calls retried: `transparent` (never reached a server), `policy` (per retryPolicy). */
  readonly retried = { transparent: 0, policy: 0 };
  /** Hedges sent (attempts after the first of hedged calls, transparent replacements not included). */
  readonly hedged = { hedges: 0 };

  private readonly set: EndpointSet<Endpoint>;
  private readonly queue: PickQueue<Endpoint>;
  private readonly retry: Retry;
  private readonly outliers: OutlierDetector<Endpoint> | undefined;
  private readonly events: PoolEventBus;
  private readonly clock: Clock;
  private readonly defaultTimeoutMs: number | undefined;
  private readonly telemetry: PoolTelemetry;
  private readonly requestHeaders: Readonly<Record<string, string>> | undefined;
  private readonly hedging: Required<HedgingPolicy> | undefined;
  /** With `hedgingDelayPercentile`: the delay from each method's latencies. */
  private readonly hedgingDelay: AdaptiveHedgingDelay | undefined;
  /** Streams hedged calls may reset per endpoint (servers' rapid-reset limits). */
  private readonly resets: ResetBudget;
  /** The throttle and budget of extra attempts, or undefined for none. */
  readonly limits: ExtraAttempts | undefined;

  constructor(parts: CallRunnerParts) {
    this.set = parts.set;
    this.queue = parts.queue;
    this.retry = parts.retry;
    this.outliers = parts.outliers;
    this.events = parts.events;
    this.clock = parts.clock;
    this.defaultTimeoutMs = parts.defaultTimeoutMs;
    this.telemetry = parts.telemetry;
    this.requestHeaders = parts.requestHeaders;
    this.hedging = parts.hedging;
    this.hedgingDelay =
      parts.hedging && parts.hedging.hedgingDelayPercentile > 0
        ? new AdaptiveHedgingDelay(parts.hedging, parts.clock)
        : undefined;
    this.limits = parts.limits;
    this.resets = new ResetBudget(parts.clock);
  }

  /** A unary call, with transparent and policy retries on other endpoints. */
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    if (this.requestHeaders) header = withHeaders(header, this.requestHeaders);
    this.limits?.callStarted();
    const ct = this.telemetry.startCall(method);
    if (this.hedging) return this.hedgedUnary(method, signal, timeoutMs, header, input, contextValues, ct);
    if (ct === undefined) return this.runUnary(method, signal, timeoutMs, header, input, contextValues, ct);
    return this.runUnary(method, signal, timeoutMs, header, input, contextValues, ct).then(
      (response) => {
        ct.end(undefined);
        return response;
      },
      (err: unknown) => {
        ct.end(err);
        throw err;
      },
    );
  }

  private async runUnary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
    ct: CallTelemetry | undefined,
  ): Promise<UnaryResponse<I, O>> {
    const clock = this.clock;
    const started = clock.now();
    const timeout = timeoutMs ?? this.defaultTimeoutMs;
    let budget: RetryState | undefined;
    let failedOn: Endpoint[] | undefined;
    const info: PickInfo = { header, contextValues };
    for (;;) {
      ct?.attemptStart();
      let picker = this.set.picker;
      let endpoint = pickAvoiding(picker, failedOn, info);
      let queued = false;
      if (!endpoint) {
        endpoint = await this.waitForEndpoint(signal, remainingTimeout(timeout, started, clock), info);
        picker = this.set.picker;
        queued = true;
      }
      const remaining = remainingTimeout(timeout, started, clock);
      const pickedAt = picker.onDone === undefined ? 0 : preciseNow(clock);
      this.callStarted(endpoint, method);
      const losses = endpoint.connectionLosses;
      const sent = ct === undefined ? header : ct.picked(endpoint, header, queued);
      let error: ConnectError;
      try {
        const response = await endpoint.unary(method, signal, remaining, sent, input, contextValues, ct);
        this.callEnded(endpoint, undefined, picker, pickedAt, response);
        ct?.attemptEnd(undefined);
        this.limits?.callSucceeded();
        return response;
      } catch (err) {
        error = connectionLossAsUnavailable(err, endpoint, losses, signal);
        this.callEnded(endpoint, error, picker, pickedAt, undefined);
        ct?.attemptEnd(error);
      }
      if (signal?.aborted) throw error;
      failedOn ??= [];
      failedOn.push(endpoint);
      budget ??= this.retry.start();
      const limits = this.limits;
      if (limits && this.retry.retryable(error.code)) limits.attemptFailed();
      const decision = this.retry.next(budget, error, clock.now() - started, timeout);
      if (!decision) throw error;
      if (decision.kind === "policy" && limits && !limits.allow()) throw error;
      if (decision.kind === "policy") {
        try {
          await sleep(clock, decision.delayMs, signal);
        } catch {
          throw error;
        }
        this.retried.policy++;
      } else {
        this.retried.transparent++;
      }
      ct?.retry(decision.kind, decision.kind === "policy" ? decision.delayMs : 0, error, endpoint.address);
      this.emitRetry(endpoint, method, decision.kind, error);
    }
  }

  /**
   * A unary call under the hedging policy (gRFC A6): see {@link runHedged}.
   * Each attempt picks on its own, avoiding the endpoints the call's other
   * attempts went to, waits in the pick queue like any call when nothing is
   * READY, and runs on the endpoint's unary path (the fast paths included)
   * with its own abort signal, so that a losing attempt's stream is reset.
   */
  private hedgedUnary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues: ContextValues | undefined,
    ct: CallTelemetry | undefined,
  ): Promise<UnaryResponse<I, O>> {
    const clock = this.clock;
    const started = clock.now();
    const timeout = timeoutMs ?? this.defaultTimeoutMs;
    const used: Endpoint[] = [];
    const endpointOf: (Endpoint | undefined)[] = [];
    const hedging = this.hedging as Required<HedgingPolicy>;
    const kinds: ("first" | "hedge" | "transparent")[] = [];
    const info: PickInfo = { header, contextValues };
    // With an adaptive delay: this method's delay now, and the call's latency for it afterwards.
    const adaptive = this.hedgingDelay && { delay: this.hedgingDelay, procedure: procedureOf(method) };
    const firstSent = preciseNow(clock);
    const result = runHedged<UnaryResponse<I, O>>({
      policy: adaptive
        ? { ...hedging, hedgingDelayMs: adaptive.delay.delayFor(adaptive.procedure) }
        : hedging,
      clock,
      limits: this.limits ?? NO_LIMITS,
      signal,
      deadline: timeout === undefined ? undefined : started + timeout,
      transparentRetries: this.retry.transparentRetries,
      mayCancel: (index) => {
        const endpoint = endpointOf[index];
        // Not sent yet (picking, queued): cancelling costs the server nothing.
        return endpoint === undefined || this.resets.take(endpoint);
      },
      onExtra: (kind, index) => {
        kinds[index] = kind;
        if (kind === "hedge") this.hedged.hedges++;
        else this.retried.transparent++;
      },
      start: async (index, attemptSignal, onHeaders) => {
        const at = ct?.concurrentAttempt(kinds[index] ?? "first");
        const sizes = at ?? { sent: 0, rcvd: 0, onHeaders: undefined };
        sizes.onHeaders = onHeaders;
        let picker = this.set.picker;
        let endpoint = pickAvoiding(picker, used.length === 0 ? undefined : used, info);
        let queued = false;
        try {
          if (!endpoint) {
            endpoint = await this.waitForEndpoint(
              attemptSignal,
              remainingTimeout(timeout, started, clock),
              info,
            );
            picker = this.set.picker;
            queued = true;
          }
        } catch (err) {
          at?.end(ConnectError.from(err));
          throw err;
        }
        used.push(endpoint);
        endpointOf[index] = endpoint;
        const remaining = remainingTimeout(timeout, started, clock);
        const pickedAt = picker.onDone === undefined ? 0 : preciseNow(clock);
        this.callStarted(endpoint, method);
        const losses = endpoint.connectionLosses;
        // A6: a server can tell a hedge from a first attempt.
        const base =
          index === 0 ? header : withHeaders(header, { "grpc-previous-rpc-attempts": String(index) });
        const sent = at === undefined ? base : at.picked(endpoint, base, queued);
        try {
          const response = await endpoint.unary(
            method,
            attemptSignal,
            remaining,
            sent,
            input,
            contextValues,
            at,
          );
          this.callEnded(endpoint, undefined, picker, pickedAt, response);
          at?.end(undefined);
          return response;
        } catch (err) {
          const error = connectionLossAsUnavailable(err, endpoint, losses, attemptSignal);
          // A loser cancelled by the pool says nothing about its endpoint's health.
          this.callEnded(endpoint, attemptSignal.aborted ? undefined : error, picker, pickedAt, undefined);
          at?.end(error);
          throw error;
        }
      },
    });
    return result.then(
      (response) => {
        adaptive?.delay.record(adaptive.procedure, preciseNow(clock) - firstSent);
        this.limits?.callSucceeded();
        ct?.end(undefined);
        return response;
      },
      (err: unknown) => {
        ct?.end(err);
        throw err;
      },
    );
  }

  /** The queue's wait, timed for `rngbalance.pool.pick_queue.duration` when metrics are on. */
  private waitForEndpoint(
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    info: PickInfo,
  ): Promise<Endpoint> {
    const waiting = this.queue.wait(signal, timeoutMs, info);
    if (!this.telemetry.metricsOn) return waiting;
    const t0 = performance.now();
    const done = (ok: boolean) => this.telemetry.queueWaited((performance.now() - t0) / 1000, ok);
    return waiting.then(
      (endpoint) => {
        done(true);
        return endpoint;
      },
      (err: unknown) => {
        done(false);
        throw err;
      },
    );
  }

  /** A streaming call; it counts as in flight until its response stream ends, however it ends. */
  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    if (this.requestHeaders) header = withHeaders(header, this.requestHeaders);
    const clock = this.clock;
    const started = clock.now();
    const timeout = timeoutMs ?? this.defaultTimeoutMs;
    const ct = this.telemetry.startCall(method);
    ct?.attemptStart();
    let picker = this.set.picker;
    const info: PickInfo = { header, contextValues };
    let picked = picker.pick(info);
    let queued = false;
    if (!picked) {
      try {
        picked = await this.waitForEndpoint(signal, timeout, info);
      } catch (err) {
        ct?.end(err);
        throw err;
      }
      picker = this.set.picker;
      queued = true;
    }
    const endpoint = picked;
    const remaining = remainingTimeout(timeout, started, clock);
    const pickedAt = picker.onDone === undefined ? 0 : preciseNow(clock);
    this.callStarted(endpoint, method);
    const losses = endpoint.connectionLosses;
    let response: StreamResponse<I, O> | undefined;
    let finished = false;
    const finish = (error: unknown) => {
      if (finished) return;
      finished = true;
      const e = error === undefined ? undefined : ConnectError.from(error);
      this.callEnded(endpoint, e, picker, pickedAt, e ? undefined : response);
      ct?.end(e);
    };
    const sentHeader = ct === undefined ? header : ct.picked(endpoint, header, queued);
    const sentInput = ct && this.telemetry.sizesOn ? countSent(input, method.input, ct) : input;
    try {
      response = await endpoint.transport.stream(
        method,
        signal,
        remaining,
        sentHeader,
        sentInput,
        contextValues,
      );
    } catch (err) {
      const error = connectionLossAsUnavailable(err, endpoint, losses, signal);
      finish(error);
      throw error;
    }
    const messages = response.message;
    const measure = ct && this.telemetry.sizesOn ? ct : undefined;
    async function* counted() {
      try {
        for await (const m of messages) {
          if (measure) measure.rcvd += binarySize(method.output, m);
          yield m;
        }
      } catch (err) {
        const error = connectionLossAsUnavailable(err, endpoint, losses, signal);
        finish(error);
        throw error;
      } finally {
        finish(undefined);
      }
    }
    return { ...response, message: counted() };
  }

  /** Bookkeeping at the start of a call on `endpoint`. */
  private callStarted(endpoint: Endpoint, method: Method): void {
    endpoint.callStarted();
    if (this.events.listening("pick")) {
      this.events.emit("pick", { address: endpoint.address, procedure: procedureOf(method) });
    }
  }

  /** Bookkeeping at the end of a call: counts, outlier outcomes, and the picker's hook if it has one. */
  private callEnded(
    endpoint: Endpoint,
    error: ConnectError | undefined,
    picker: Picker<Endpoint>,
    pickedAt: number,
    response: { readonly trailer: Headers } | undefined,
  ): void {
    endpoint.callEnded(error !== undefined);
    this.outliers?.record(endpoint, error);
    if (picker.onDone !== undefined) {
      picker.onDone(endpoint, {
        latencyMs: preciseNow(this.clock) - pickedAt,
        ok: error === undefined,
        code: error?.code,
        trailers: error ? error.metadata : response?.trailer,
      });
    }
  }

  private emitRetry(endpoint: Endpoint, method: Method, kind: "transparent" | "policy", error: ConnectError) {
    if (!this.events.listening("retry")) return;
    this.events.emit("retry", { address: endpoint.address, procedure: procedureOf(method), kind, error });
  }
}
