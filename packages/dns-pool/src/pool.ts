import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, StreamResponse, Transport, UnaryResponse } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Address, formatAddress, isUnixAddress } from "./address.js";
import { EMPTY_PICKER, type Picker } from "./balancer/picker.js";
import { type BalancingPolicy, createPolicy } from "./balancer/policy.js";
import { ConnectivityState } from "./connectivity.js";
import { Endpoint, type EndpointTransportOptions, endpointTransportOptions } from "./endpoint.js";
import { describeError, neverProcessed } from "./errors.js";
import type { PoolEvents } from "./events.js";
import { SerializerCache } from "./fast/grpc-unary.js";
import type { HealthStatus } from "./health-check.js";
import { type PoolTransportOptions, type ResolvedPoolOptions, resolvePoolOptions } from "./options.js";
import { sweepOutliers } from "./outlier-detection.js";
import { DnsResolver } from "./resolver/dns-resolver.js";
import { KubernetesResolver } from "./resolver/kubernetes-resolver.js";
import {
  type Resolution,
  type Resolver,
  type ResolverListener,
  StaticResolver,
} from "./resolver/resolver.js";
import { Subchannel, type SubchannelListener } from "./subchannel.js";
import { createSubsetter, type Subsetter } from "./subset/index.js";
import { checkSubsetSize } from "./subset/subsetter.js";
import { defaultAuthority, parseTarget, staticAddresses, type Target } from "./target.js";

/** One endpoint in {@link PoolStats}. */
export interface EndpointStats {
  readonly address: string;
  readonly state: ConnectivityState;
  /** Calls running now. */
  readonly inFlight: number;
  /** Calls started on this endpoint since it joined the pool. */
  readonly calls: number;
  /** Of those, calls that ended with an error. */
  readonly failures: number;
  /** The last connection error or health complaint, if any. */
  readonly lastError: string | undefined;
  /** What health checking says: PENDING, SERVING, NOT_SERVING or UNCHECKED. */
  readonly health: HealthStatus;
  /** How much longer outlier detection keeps it out of the picker; 0 when it is in. */
  readonly ejectedForMs: number;
}

/** A snapshot of the pool, from {@link PoolTransport.stats}. */
export interface PoolStats {
  readonly target: string;
  readonly policy: string;
  readonly state: ConnectivityState;
  /** The endpoints in address order. */
  readonly endpoints: readonly EndpointStats[];
  /** Endpoints removed by DNS whose in-flight calls are still finishing. */
  readonly draining: number;
  /** The last resolution error, cleared by the next success. */
  readonly lastResolutionError: string | undefined;
  /** Calls retried: `transparent` (never reached a server), `policy` (per retryPolicy). */
  readonly retries: { readonly transparent: number; readonly policy: number };
}

/** Request headers as connect's Transport takes them (the Fetch API's HeadersInit). */
type HeadersInit = ConstructorParameters<typeof Headers>[0];

interface Waiter {
  readonly waitForReady: boolean;
  resolve(endpoint: Endpoint): void;
  reject(error: ConnectError): void;
}

/**
 * A Connect `Transport` over a pool of HTTP/2 connections, one per address
 * a gRPC-style target resolves to. Use it like any transport:
 * `createClient(Rng, createPoolTransport({ target: "dns:///rng-headless:8081" }))`.
 *
 * Resolver -> endpoints (one connection each, with connectivity states) ->
 * policy -> picker: the picker is rebuilt and swapped whole on every change,
 * and each call asks it for a READY endpoint in O(1).
 */
export class PoolTransport implements Transport {
  /** The target as given. */
  readonly target: string;
  private readonly options: ResolvedPoolOptions;
  private readonly parsed: Target;
  private readonly origin: string;
  /** The TLS server name: the authority's host, unless that is an IP literal. */
  private readonly sniHost: string | undefined;
  private readonly transportOptions: EndpointTransportOptions;
  private readonly rawOptions: PoolTransportOptions;
  private readonly resolver: Resolver;
  private readonly policy: BalancingPolicy<Endpoint>;
  private readonly emitter = new EventEmitter();
  private endpoints = new Map<string, Endpoint>();
  private ordered: Endpoint[] = [];
  private readonly draining = new Set<Endpoint>();
  private picker: Picker<Endpoint> = EMPTY_PICKER;
  private stateValue = ConnectivityState.IDLE;
  private waiters: Waiter[] = [];
  private active: boolean;
  private resolvedOnce = false;
  private lastResolutionError: ConnectError | undefined;
  private rebuilding = false;
  private rebuildAgain = false;
  private closedPromise: Promise<void> | undefined;
  private waitingHandle: NodeJS.Timeout | undefined;
  private readonly outlierTimer: NodeJS.Timeout | undefined;
  private readonly retried = { transparent: 0, policy: 0 };
  private readonly serializers = new SerializerCache();
  private readonly subset: { size: number; subsetter: Subsetter } | undefined;

  /** @throws ConnectError (InvalidArgument) for a malformed target or option. */
  constructor(options: PoolTransportOptions) {
    this.options = resolvePoolOptions(options);
    this.rawOptions = options;
    this.target = options.target;
    this.parsed = parseTarget(options.target, options.defaultPort);
    const authority = options.authority ?? defaultAuthority(this.parsed);
    this.origin = `${options.tls ? "https" : "http"}://${authority}`;
    let authorityHost: string;
    try {
      authorityHost = new URL(this.origin).hostname.replace(/^\[|\]$/g, "");
    } catch {
      throw new ConnectError(`invalid authority "${authority}": expected host[:port]`, Code.InvalidArgument);
    }
    // SNI must be a host name; RFC 6066 forbids IP literals there.
    this.sniHost = isIP(authorityHost) ? undefined : authorityHost;
    this.transportOptions = endpointTransportOptions(options);
    this.policy = createPolicy(this.options.policy);
    this.active = this.options.connect === "eager";
    if (options.subset) {
      try {
        this.subset = {
          size: options.subset.size,
          subsetter: createSubsetter(options.subset.kind ?? "auto", options.subset),
        };
        checkSubsetSize(options.subset.size);
      } catch (err) {
        throw new ConnectError(`option subset: ${(err as Error).message}`, Code.InvalidArgument);
      }
    }
    this.resolver = createResolver(this.parsed, this.options, options.kubeConfig);
    this.resolver.start(this.resolverListener);
    const od = this.options.outlierDetection;
    if (od) {
      this.outlierTimer = setInterval(() => this.sweepOutliers(od), od.intervalMs);
      this.outlierTimer.unref();
    }
  }

  private sweepOutliers(od: Exclude<ResolvedPoolOptions["outlierDetection"], false>): void {
    const before = new Map(this.ordered.map((e) => [e, e.ejectedUntil]));
    if (!sweepOutliers(this.ordered, od, Date.now())) return;
    for (const [e, was] of before) {
      if ((was === 0) !== (e.ejectedUntil === 0)) {
        this.emit("ejection", {
          address: e.address,
          ejected: e.ejectedUntil !== 0,
          untilMs: e.ejectedUntil === 0 ? undefined : e.ejectedUntil - Date.now(),
        });
      }
    }
    this.rebuild();
  }

  /** The pool's overall connectivity: READY if any endpoint is READY. */
  get state(): ConnectivityState {
    return this.stateValue;
  }

  /** Listens to pool events: resolution, resolutionError, endpointState, state, pick. */
  on<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): this {
    this.emitter.on(event, listener);
    return this;
  }

  /** Stops listening. */
  off<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): this {
    this.emitter.off(event, listener);
    return this;
  }

  /** A snapshot of every endpoint's state and call counts. */
  stats(): PoolStats {
    return {
      target: this.target,
      policy: this.policy.name,
      state: this.stateValue,
      endpoints: this.ordered.map((e) => ({
        address: e.address,
        state: e.state,
        inFlight: e.inFlight,
        calls: e.calls,
        failures: e.failures,
        lastError: e.healthReason ?? (e.subchannel.lastError && describeError(e.subchannel.lastError)),
        health: e.health,
        ejectedForMs: e.ejectedUntil === 0 ? 0 : Math.max(0, e.ejectedUntil - Date.now()),
      })),
      retries: { ...this.retried },
      draining: this.draining.size,
      lastResolutionError: this.lastResolutionError?.rawMessage,
    };
  }

  /**
   * Closes the pool: no new calls, re-resolution stops, calls in flight
   * finish, then every connection closes. Idempotent.
   */
  close(): Promise<void> {
    this.closedPromise ??= (async () => {
      this.resolver.close();
      clearInterval(this.outlierTimer);
      this.setState(ConnectivityState.SHUTDOWN);
      const err = new ConnectError(`the pool for "${this.target}" is closed`, Code.Unavailable);
      for (const w of this.waiters.splice(0)) w.reject(err);
      const all = [...this.ordered, ...this.draining];
      this.picker = EMPTY_PICKER;
      await Promise.all(all.map((e) => e.subchannel.shutdown(true)));
    })();
    return this.closedPromise;
  }

  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    const started = Date.now();
    const timeout = timeoutMs ?? this.options.defaultTimeoutMs;
    const policy = this.options.retryPolicy;
    let transparentLeft = this.options.transparentRetries;
    let failedOn: Endpoint[] | undefined;
    for (let attempt = 1; ; ) {
      const endpoint =
        this.pickAvoiding(failedOn) ??
        (await this.waitForEndpoint(signal, remainingTimeout(timeout, started)));
      const remaining = remainingTimeout(timeout, started);
      this.callStarted(endpoint, method);
      const losses = endpoint.subchannel.connectionLosses;
      let error: ConnectError;
      try {
        const response = await endpoint.unary(method, signal, remaining, header, input, contextValues);
        this.callEnded(endpoint, undefined);
        return response;
      } catch (err) {
        error = connectionLossAsUnavailable(err, endpoint, losses, signal);
        this.callEnded(endpoint, error);
      }
      if (signal?.aborted) throw error;
      failedOn ??= [];
      failedOn.push(endpoint);
      // Never seen by a server: always safe to send elsewhere (gRPC transparent retry).
      if (transparentLeft > 0 && neverProcessed(error)) {
        transparentLeft--;
        this.retried.transparent++;
        this.emitRetry(endpoint, method, "transparent", error);
        continue;
      }
      // Seen by a server: only when the user opted in for this code (gRFC A6).
      if (policy && attempt < policy.maxAttempts && policy.retryableCodes.includes(error.code)) {
        const ceiling = Math.min(
          policy.initialBackoffMs * policy.backoffMultiplier ** (attempt - 1),
          policy.maxBackoffMs,
        );
        const delay = Math.random() * ceiling;
        if (timeout !== undefined && Date.now() - started + delay >= timeout) throw error;
        try {
          await sleep(delay, undefined, { signal });
        } catch {
          throw error;
        }
        attempt++;
        this.retried.policy++;
        this.emitRetry(endpoint, method, "policy", error);
        continue;
      }
      throw error;
    }
  }

  /**
   * A pick for a retry: another endpoint than those the call already failed
   * on, if the picker offers one within a few picks (still O(1)).
   */
  private pickAvoiding(failedOn: Endpoint[] | undefined): Endpoint | undefined {
    let endpoint = this.picker.pick();
    if (!failedOn) return endpoint;
    for (let i = 0; i < 4 && endpoint && failedOn.includes(endpoint); i++) endpoint = this.picker.pick();
    return endpoint;
  }

  /** Bookkeeping at the start of a call on `endpoint`. */
  private callStarted(endpoint: Endpoint, method: { parent: { typeName: string }; name: string }): void {
    endpoint.inFlight++;
    endpoint.calls++;
    if (this.emitter.listenerCount("pick") > 0) this.emitPick(endpoint, method);
  }

  /** Bookkeeping at the end of a call: counts, and outcomes for outlier detection. */
  private callEnded(endpoint: Endpoint, error: ConnectError | undefined): void {
    endpoint.inFlight--;
    if (error) endpoint.failures++;
    const od = this.options.outlierDetection;
    if (!od) return;
    if (error && od.failureCodes.includes(error.code)) endpoint.intervalFailures++;
    else endpoint.intervalSuccesses++;
  }

  private emitRetry(
    endpoint: Endpoint,
    method: { parent: { typeName: string }; name: string },
    kind: "transparent" | "policy",
    error: ConnectError,
  ): void {
    if (this.emitter.listenerCount("retry") === 0) return;
    this.emit("retry", { address: endpoint.address, procedure: procedureOf(method), kind, error });
  }

  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    const started = Date.now();
    const timeout = timeoutMs ?? this.options.defaultTimeoutMs;
    const endpoint = this.picker.pick() ?? (await this.waitForEndpoint(signal, timeout));
    const remaining = remainingTimeout(timeout, started);
    this.callStarted(endpoint, method);
    const losses = endpoint.subchannel.connectionLosses;
    let finished = false;
    const finish = (error: unknown) => {
      if (finished) return;
      finished = true;
      this.callEnded(endpoint, error === undefined ? undefined : ConnectError.from(error));
    };
    let response: StreamResponse<I, O>;
    try {
      response = await endpoint.transport.stream(method, signal, remaining, header, input, contextValues);
    } catch (err) {
      const error = connectionLossAsUnavailable(err, endpoint, losses, signal);
      finish(error);
      throw error;
    }
    // The call is in flight until its response stream ends, however it ends.
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

  private emitPick(endpoint: Endpoint, method: { parent: { typeName: string }; name: string }): void {
    this.emit("pick", { address: endpoint.address, procedure: procedureOf(method) });
  }

  /** Waits for a READY endpoint, or fails as gRPC does (see `waitForReady`). */
  private waitForEndpoint(signal: AbortSignal | undefined, timeoutMs: number | undefined): Promise<Endpoint> {
    if (this.closedPromise) {
      return Promise.reject(new ConnectError(`the pool for "${this.target}" is closed`, Code.Unavailable));
    }
    if (!this.active) {
      this.active = true;
      this.rebuild();
      const endpoint = this.picker.pick();
      if (endpoint) return Promise.resolve(endpoint);
    }
    const waitForReady = this.options.waitForReady;
    if (!waitForReady && this.stateValue === ConnectivityState.TRANSIENT_FAILURE) {
      return Promise.reject(this.unavailableError());
    }
    if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
    return new Promise<Endpoint>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => settle(() => reject(ConnectError.from(signal?.reason, Code.Canceled)));
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        if (this.waiters.length === 0) this.releaseProcess();
        fn();
      };
      const waiter: Waiter = {
        waitForReady,
        resolve: (e) => settle(() => resolve(e)),
        reject: (err) => settle(() => reject(err)),
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const why = this.unavailableError().rawMessage;
          waiter.reject(
            new ConnectError(
              `deadline of ${timeoutMs} ms exceeded while waiting for a ready endpoint: ${why}`,
              Code.DeadlineExceeded,
            ),
          );
        }, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort);
      this.waiters.push(waiter);
      this.holdProcessOpen();
    });
  }

  /**
   * A waiting call must keep the process alive, but the pool's own timers
   * (backoff, re-resolution) are unref'd so an idle pool never does: while
   * calls wait, one ref'd handle stands in for them.
   */
  private holdProcessOpen(): void {
    this.waitingHandle ??= setInterval(() => {}, 60_000);
  }

  private releaseProcess(): void {
    clearInterval(this.waitingHandle);
    this.waitingHandle = undefined;
  }

  /** UNAVAILABLE, naming the target and why nothing is READY. */
  private unavailableError(): ConnectError {
    const n = this.ordered.length;
    let why: string;
    if (n === 0) {
      why = this.lastResolutionError
        ? `no addresses: ${this.lastResolutionError.rawMessage}`
        : "no addresses resolved yet";
    } else {
      const states = new Map<string, number>();
      for (const e of this.ordered) states.set(e.state, (states.get(e.state) ?? 0) + 1);
      const summary = [...states].map(([s, c]) => `${c} ${s}`).join(", ");
      const failed = this.ordered.find((e) => e.subchannel.lastError);
      why = `${n} endpoint${n === 1 ? "" : "s"} (${summary})`;
      if (failed?.subchannel.lastError)
        why += `; last error from ${failed.address}: ${describeError(failed.subchannel.lastError)}`;
      if (this.lastResolutionError) why += `; DNS also fails: ${this.lastResolutionError.rawMessage}`;
    }
    return new ConnectError(`no ready endpoint for target "${this.target}": ${why}`, Code.Unavailable);
  }

  private readonly resolverListener: ResolverListener = {
    onResolution: (resolution: Resolution) => this.applyResolution(resolution),
    onResolutionError: (error: ConnectError) => {
      this.lastResolutionError = error;
      this.emit("resolutionError", { error, keptAddresses: this.ordered.length });
      this.rebuild();
    },
  };

  private readonly subchannelListener: SubchannelListener = {
    onStateChange: (subchannel, previous, error) => {
      const state = subchannel.state;
      this.endpoints.get(subchannel.key)?.connectionChanged();
      this.emit("endpointState", { address: subchannel.key, previous, state, error });
      // A lost or failed connection may mean the pod is gone: ask DNS (rate-limited).
      if (
        state === ConnectivityState.TRANSIENT_FAILURE ||
        (previous === ConnectivityState.READY && state === ConnectivityState.IDLE)
      ) {
        this.resolver.resolveNow();
      }
      this.rebuild();
    },
    onGoaway: () => this.resolver.resolveNow(),
  };

  private applyResolution(resolution: Resolution): void {
    if (this.closedPromise) return;
    const next = new Map<string, Endpoint>();
    const added: string[] = [];
    let addresses = resolution.addresses;
    if (this.subset) {
      const byKey = new Map(addresses.map((a) => [formatAddress(a), a]));
      const chosen = this.subset.subsetter.select([...byKey.keys()], this.subset.size);
      addresses = chosen.map((k) => byKey.get(k) as Address);
    }
    for (const address of addresses) {
      const key = formatAddress(address);
      let endpoint = this.endpoints.get(key);
      if (!endpoint) {
        endpoint = this.createEndpoint(address);
        added.push(key);
      }
      next.set(key, endpoint);
    }
    const removed: string[] = [];
    for (const [key, endpoint] of this.endpoints) {
      if (next.has(key)) continue;
      removed.push(key);
      // Drain: out of the picker now, in-flight calls finish, then the connection closes.
      this.draining.add(endpoint);
      void endpoint.subchannel.shutdown(true).then(() => this.draining.delete(endpoint));
    }
    this.endpoints = next;
    this.ordered = [...next.values()];
    this.resolvedOnce = true;
    this.lastResolutionError = undefined;
    this.emit("resolution", {
      addresses: this.ordered.map((e) => e.address),
      added,
      removed,
      resolved: resolution.addresses.length,
      ttlSeconds: resolution.ttlSeconds,
    });
    this.rebuild();
  }

  private createEndpoint(address: Address): Endpoint {
    const tls = this.rawOptions.tls;
    const subchannel = new Subchannel(
      {
        address,
        authority: this.origin,
        tls:
          tls === undefined || tls === false
            ? undefined
            : {
                servername: isUnixAddress(address) ? undefined : this.sniHost,
                ...(tls === true ? {} : tls),
              },
        connectTimeoutMs: this.options.connectTimeoutMs,
        keepalive: this.options.keepalive,
        backoff: this.options.reconnectBackoff,
        http2Options: this.rawOptions.http2Options,
      },
      this.subchannelListener,
    );
    const health = this.options.healthCheck;
    return new Endpoint(
      subchannel,
      this.options.protocol,
      this.transportOptions,
      health ? health.service : undefined,
      () => this.rebuild(),
      this.options.fastPath,
      this.serializers,
    );
  }

  /**
   * Connects what the policy wants, swaps in a new picker, updates the
   * overall state and serves waiting calls. Re-entrant calls (a connection
   * attempt changes a state synchronously) are folded into one more pass.
   */
  private rebuild(): void {
    if (this.closedPromise) return;
    if (this.rebuilding) {
      this.rebuildAgain = true;
      return;
    }
    this.rebuilding = true;
    try {
      do {
        this.rebuildAgain = false;
        if (this.active) for (const e of this.policy.wanted(this.ordered)) e.subchannel.requestConnection();
        this.picker = this.policy.buildPicker(this.ordered);
        this.setState(this.aggregateState());
      } while (this.rebuildAgain);
    } finally {
      this.rebuilding = false;
    }
    this.serveWaiters();
  }

  private serveWaiters(): void {
    if (this.waiters.length === 0) return;
    if (this.stateValue === ConnectivityState.READY) {
      for (const w of [...this.waiters]) {
        const endpoint = this.picker.pick();
        if (endpoint) w.resolve(endpoint);
      }
    } else if (this.stateValue === ConnectivityState.TRANSIENT_FAILURE) {
      const err = this.unavailableError();
      for (const w of [...this.waiters]) if (!w.waitForReady) w.reject(err);
    }
  }

  private aggregateState(): ConnectivityState {
    const states = new Set(this.ordered.map((e) => e.state));
    if (states.has(ConnectivityState.READY)) return ConnectivityState.READY;
    if (states.has(ConnectivityState.CONNECTING)) return ConnectivityState.CONNECTING;
    if (this.ordered.length === 0) {
      if (this.lastResolutionError) return ConnectivityState.TRANSIENT_FAILURE;
      return this.active || !this.resolvedOnce ? ConnectivityState.CONNECTING : ConnectivityState.IDLE;
    }
    if (states.size === 1 && states.has(ConnectivityState.TRANSIENT_FAILURE))
      return ConnectivityState.TRANSIENT_FAILURE;
    return this.active ? ConnectivityState.CONNECTING : ConnectivityState.IDLE;
  }

  private setState(state: ConnectivityState): void {
    const previous = this.stateValue;
    if (previous === state) return;
    this.stateValue = state;
    this.emit("state", { previous, state });
  }

  private emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K]): void {
    this.emitter.emit(event, payload);
  }
}

/**
 * Creates a Connect transport that resolves `options.target` and balances
 * calls over every address it resolves to.
 *
 * @throws ConnectError (InvalidArgument) for a malformed target or option.
 */
export function createPoolTransport(options: PoolTransportOptions): PoolTransport {
  return new PoolTransport(options);
}

/** The resolver for a target: fixed addresses, DNS or the Kubernetes API. */
function createResolver(
  target: Target,
  options: ResolvedPoolOptions,
  kubeConfig: object | undefined,
): Resolver {
  const fixed = staticAddresses(target);
  if (fixed) return new StaticResolver(fixed);
  switch (target.scheme) {
    case "dns":
      return new DnsResolver({
        ...options,
        host: target.host,
        port: target.port,
        dnsServer: target.dnsServer,
      });
    case "kubernetes":
      return new KubernetesResolver({
        service: target.service,
        namespace: target.namespace ?? podNamespace(),
        port: target.port,
        kubeConfig,
        initialBackoffMs: options.minResolveIntervalMs,
        maxBackoffMs: options.maxResolveIntervalMs,
      });
    default:
      throw new Error(`no resolver for ${target.scheme}`);
  }
}

/** The namespace this pod runs in, from its service account; "default" outside a cluster. */
function podNamespace(): string {
  try {
    return (
      readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim() || "default"
    );
  } catch {
    return "default";
  }
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
  const lost =
    endpoint.subchannel.connectionLosses !== lossesAtStart ||
    /ECONNRESET|EPIPE|socket hang up/.test(error.rawMessage);
  if (!lost) return error;
  return new ConnectError(
    `connection to ${endpoint.address} was lost during the call (${error.rawMessage}); the call may or may not have run`,
    Code.Unavailable,
    error.metadata,
    undefined,
    error,
  );
}

/** "/rng.Rng/Rng" */
function procedureOf(method: { parent: { typeName: string }; name: string }): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function remainingTimeout(timeoutMs: number | undefined, startedAt: number): number | undefined {
  if (timeoutMs === undefined) return undefined;
  const left = timeoutMs - (Date.now() - startedAt);
  if (left <= 0)
    throw new ConnectError(
      `deadline of ${timeoutMs} ms exceeded before the call started`,
      Code.DeadlineExceeded,
    );
  return left;
}
