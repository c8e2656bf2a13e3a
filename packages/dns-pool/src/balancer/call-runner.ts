import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, StreamResponse, UnaryResponse } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Clock, preciseNow, sleep } from "../clock.js";
import type { Endpoint } from "../connection/endpoint.js";
import { connectionLost } from "../errors.js";
import type { PoolEventBus } from "../events.js";
import type { OutlierDetector } from "../health/outlier-detector.js";
import type { EndpointSet } from "./endpoint-set.js";
import type { PickQueue } from "./pick-queue.js";
import type { Picker } from "./picker.js";
import type { Retry, RetryState } from "./retry.js";

/** Request headers as connect's Transport takes them (the Fetch API's HeadersInit). */
export type HeadersInit = ConstructorParameters<typeof Headers>[0];

type Method = { parent: { typeName: string }; name: string };

/**
 * Runs calls: pick (or wait in the queue), bookkeeping (in-flight counts,
 * outlier outcomes, the picker's `onDone`), and for unary calls the retry
 * loop. The hot path allocates nothing beyond the call itself unless a
 * `pick` listener or an `onDone` picker asks for it.
 */
export class CallRunner {
  /** Calls retried: `transparent` (never reached a server), `policy` (per retryPolicy). */
  readonly retried = { transparent: 0, policy: 0 };

  constructor(
    private readonly set: EndpointSet<Endpoint>,
    private readonly queue: PickQueue<Endpoint>,
    private readonly retry: Retry,
    private readonly outliers: OutlierDetector | undefined,
    private readonly events: PoolEventBus,
    private readonly clock: Clock,
    private readonly defaultTimeoutMs: number | undefined,
    private readonly requestHeaders?: Readonly<Record<string, string>>,
  ) {}

  /** A unary call, with transparent and policy retries on other endpoints. */
  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    if (this.requestHeaders) header = withHeaders(header, this.requestHeaders);
    const clock = this.clock;
    const started = clock.now();
    const timeout = timeoutMs ?? this.defaultTimeoutMs;
    let budget: RetryState | undefined;
    let failedOn: Endpoint[] | undefined;
    for (;;) {
      let picker = this.set.picker;
      let endpoint = pickAvoiding(picker, failedOn);
      if (!endpoint) {
        endpoint = await this.queue.wait(signal, remainingTimeout(timeout, started, clock));
        picker = this.set.picker;
      }
      const remaining = remainingTimeout(timeout, started, clock);
      const pickedAt = picker.onDone === undefined ? 0 : preciseNow(clock);
      this.callStarted(endpoint, method);
      const losses = endpoint.connectionLosses;
      let error: ConnectError;
      try {
        const response = await endpoint.unary(method, signal, remaining, header, input, contextValues);
        this.callEnded(endpoint, undefined, picker, pickedAt, response);
        return response;
      } catch (err) {
        error = connectionLossAsUnavailable(err, endpoint, losses, signal);
        this.callEnded(endpoint, error, picker, pickedAt, undefined);
      }
      if (signal?.aborted) throw error;
      failedOn ??= [];
      failedOn.push(endpoint);
      budget ??= this.retry.start();
      const decision = this.retry.next(budget, error, clock.now() - started, timeout);
      if (!decision) throw error;
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
      this.emitRetry(endpoint, method, decision.kind, error);
    }
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
    let picker = this.set.picker;
    let picked = picker.pick();
    if (!picked) {
      picked = await this.queue.wait(signal, timeout);
      picker = this.set.picker;
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
    };
    try {
      response = await endpoint.transport.stream(method, signal, remaining, header, input, contextValues);
    } catch (err) {
      const error = connectionLossAsUnavailable(err, endpoint, losses, signal);
      finish(error);
      throw error;
    }
    const messages = response.message;
    async function* counted() {
      try {
        yield* messages;
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
    endpoint.inFlight++;
    endpoint.calls++;
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
    endpoint.inFlight--;
    if (error) endpoint.failures++;
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

/**
 * A pick for a retry: another endpoint than those the call already failed
 * on, if the picker offers one within a few picks (still O(1)).
 */
function pickAvoiding(picker: Picker<Endpoint>, failedOn: Endpoint[] | undefined): Endpoint | undefined {
  let endpoint = picker.pick();
  if (!failedOn) return endpoint;
  for (let i = 0; i < 4 && endpoint && failedOn.includes(endpoint); i++) endpoint = picker.pick();
  return endpoint;
}

/**
 * gRPC status semantics: a call whose connection broke under it ends with
 * UNAVAILABLE. connect-node reports the same event as ABORTED (ECONNRESET)
 * or CANCELED (Node resets open streams with CANCEL when a session dies);
 * when the caller did not cancel and the connection was lost meanwhile,
 * say what happened.
 */
function connectionLossAsUnavailable(
  err: unknown,
  endpoint: Endpoint,
  lossesAtStart: number,
  signal: AbortSignal | undefined,
): ConnectError {
  const error = ConnectError.from(err);
  if (error.code !== Code.Canceled && error.code !== Code.Aborted) return error;
  if (signal?.aborted) return error;
  const lost = endpoint.connectionLosses !== lossesAtStart || connectionLost(error);
  if (!lost) return error;
  return new ConnectError(
    `connection to ${endpoint.address} was lost during the call (${error.rawMessage}); the call may or may not have run`,
    Code.Unavailable,
    error.metadata,
    undefined,
    error,
  );
}

/** `init` plus the policy's headers, those the call sets itself left as they are. */
function withHeaders(init: HeadersInit | undefined, extra: Readonly<Record<string, string>>): Headers {
  const headers = new Headers(init);
  for (const key in extra) if (!headers.has(key)) headers.set(key, extra[key] as string);
  return headers;
}

/** "/rng.Rng/Rng" */
function procedureOf(method: Method): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function remainingTimeout(
  timeoutMs: number | undefined,
  startedAt: number,
  clock: Clock,
): number | undefined {
  if (timeoutMs === undefined) return undefined;
  const left = timeoutMs - (clock.now() - startedAt);
  if (left <= 0)
    throw new ConnectError(
      `deadline of ${timeoutMs} ms exceeded before the call started`,
      Code.DeadlineExceeded,
    );
  return left;
}
