import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, StreamResponse, Transport, UnaryResponse } from "@connectrpc/connect";
import type { LocalityPolicy } from "./balancer/locality.js";
import type { CallRunner, HeadersInit } from "./call/call-runner.js";
import type { EndpointSet } from "./call/endpoint-set.js";
import type { PickQueue } from "./call/pick-queue.js";
import type { Endpoint } from "./connection/endpoint.js";
import type { ConnectivityState } from "./core/connectivity.js";
import { describeError } from "./core/errors.js";
import type { PoolEventBus, PoolEvents } from "./core/events.js";
import type { HealthStatus } from "./health/health-check.js";
import type { OutlierDetector } from "./health/outlier-detector.js";
import type { PoolTransportOptions } from "./options.js";
import { resolvePoolOptions } from "./options-resolve.js";
import { buildPoolParts } from "./pool-parts.js";
import type { Resolver } from "./resolver/resolver.js";
import type { PoolTelemetry } from "./telemetry/pool-telemetry.js";

/** One endpoint in {@link PoolStats}. */
export interface EndpointStats {
  /** Its address, e.g. "127.0.0.2:8081". */
  readonly address: string;
  /** Its state as the balancer sees it. */
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
  /** Connections open for new calls now (more than one with `maxConnectionsPerEndpoint`, gRFC A105). */
  readonly connections: number;
  /** Connections that reached READY since it joined the pool. */
  readonly connectionsOpened: number;
}

/** A snapshot of the pool, from {@link PoolTransport.stats}. */
export interface PoolStats {
  /** The target as given. */
  readonly target: string;
  /** The balancing policy's name. */
  readonly policy: string;
  /** The pool's overall state. */
  readonly state: ConnectivityState;
  /** The endpoints in address order. */
  readonly endpoints: readonly EndpointStats[];
  /** Endpoints removed by DNS whose in-flight calls are still finishing. */
  readonly draining: number;
  /** The last resolution error, cleared by the next success. */
  readonly lastResolutionError: string | undefined;
  /** Calls retried: `transparent` (never reached a server), `policy` (per retryPolicy). */
  readonly retries: {
    /** Retries of calls that never reached a server. */
    readonly transparent: number;
    /** Retries per the retryPolicy option. */
    readonly policy: number;
    /** Hedges per the hedgingPolicy option (attempts after the first). */
    readonly hedges: number;
    /** Retries and hedges refused by retryThrottling and by retryBudget. */
    readonly refused: { readonly throttle: number; readonly budget: number };
  };
  /** True while too few endpoints are healthy and calls go to every connected one (`panicThresholdPercent`). */
  readonly panic: boolean;
  /** How many times the pool entered panic. */
  readonly panicsEntered: number;
  /** Zone-aware routing (the `locality` option); undefined without it. */
  readonly locality: LocalityStats | undefined;
}

/** What zone-aware routing did, in {@link PoolStats}. */
export interface LocalityStats {
  /** The client's zone as the layer uses it (configured or learned); undefined while unknown (the layer then routes as if off). */
  readonly zone: string | undefined;
  /** Attempts that ended, by where they went: the client's zone (or hinted for it), or other zones. */
  readonly attempts: { readonly local: number; readonly otherZones: number };
  /** The share of calls (0-1) the layer keeps in the client's zone now; undefined while the zone is unknown, nothing is READY, or the pool is closed. */
  readonly localShare: number | undefined;
}

/**
 * A Connect `Transport` over a pool of HTTP/2 connections, one per address
 * a gRPC-style target resolves to. Use it like any transport:
 * `createClient(Rng, createPoolTransport({ target: "dns:///rng-headless:8081" }))`.
 *
 * A facade over the parts, which `buildPoolParts` makes (see the README's
 * Architecture section): resolver (through the scheme registry, wrapped for subsetting) →
 * {@link EndpointSet} (endpoints, policy, picker, aggregate state) →
 * {@link CallRunner} (pick, {@link PickQueue} when nothing is READY, retries)
 * → the endpoint's connection; {@link OutlierDetector} judges outcomes.
 */
export class PoolTransport implements Transport {
  /** The target as given. */
  readonly target: string;
  private readonly events: PoolEventBus;
  private readonly resolver: Resolver;
  private readonly endpoints: EndpointSet<Endpoint>;
  private readonly queue: PickQueue<Endpoint>;
  private readonly calls: CallRunner;
  private readonly outliers: OutlierDetector<Endpoint> | undefined;
  private readonly policyName: string;
  private readonly telemetry: PoolTelemetry;
  private readonly locality: LocalityPolicy<Endpoint> | undefined;
  private closedPromise: Promise<void> | undefined;

  /** @throws ConnectError (InvalidArgument) for a malformed target or option. */
  constructor(options: PoolTransportOptions) {
    const parts = buildPoolParts(resolvePoolOptions(options));
    this.target = parts.target;
    this.events = parts.events;
    this.resolver = parts.resolver;
    this.endpoints = parts.endpoints;
    this.queue = parts.queue;
    this.calls = parts.calls;
    this.outliers = parts.outliers;
    this.policyName = parts.policyName;
    this.telemetry = parts.telemetry;
    this.locality = parts.locality;
    this.resolver.start(this.endpoints);
  }

  /** The pool's overall connectivity: READY if any endpoint is READY. */
  get state(): ConnectivityState {
    return this.endpoints.state;
  }

  /** Listens to pool events: resolution, resolutionError, endpointState, state, pick, retry, ejection. */
  on<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Stops listening. */
  off<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** A snapshot of every endpoint's state and call counts. */
  stats(): PoolStats {
    const now = Date.now();
    return {
      target: this.target,
      policy: this.policyName,
      state: this.endpoints.state,
      endpoints: this.endpoints.endpoints.map((e) => ({
        address: e.address,
        state: e.state,
        inFlight: e.inFlight,
        calls: e.calls,
        failures: e.failures,
        lastError: e.healthReason ?? (e.lastError && describeError(e.lastError)),
        health: e.health,
        ejectedForMs: this.outliers?.ejectedForMs(e, now) ?? 0,
        connections: e.openConnections,
        connectionsOpened: e.connectionsOpened,
      })),
      retries: {
        ...this.calls.retried,
        hedges: this.calls.hedged.hedges,
        refused: { ...(this.calls.limits?.refused ?? { throttle: 0, budget: 0 }) },
      },
      draining: this.endpoints.drainingCount,
      lastResolutionError: this.endpoints.lastResolutionError?.rawMessage,
      panic: this.endpoints.panic,
      panicsEntered: this.endpoints.panicsEntered,
      locality: this.locality && localityStats(this.locality, this.closedPromise !== undefined),
    };
  }

  /**
   * Closes the pool: no new calls, re-resolution stops, calls in flight
   * finish, then every connection closes. Idempotent.
   */
  close(): Promise<void> {
    if (!this.closedPromise) {
      this.resolver.close();
      this.outliers?.stop();
      this.telemetry.close();
      const closing = this.endpoints.close();
      this.queue.rejectAll(this.queue.closedError());
      this.closedPromise = closing;
    }
    return this.closedPromise;
  }

  /** A unary call on a picked endpoint, retried per the pool's options. */
  unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    return this.calls.unary(method, signal, timeoutMs, header, input, contextValues);
  }

  /** A streaming call on a picked endpoint (never retried: its messages may have been seen). */
  stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    return this.calls.stream(method, signal, timeoutMs, header, input, contextValues);
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

/** The layer's figures; a closed pool plans no share (its last picker is gone). */
function localityStats(layer: LocalityPolicy<Endpoint>, closed: boolean): LocalityStats {
  const { local, otherZones, localShare } = layer.counts();
  return { zone: layer.zone, attempts: { local, otherZones }, localShare: closed ? undefined : localShare };
}
