import type { DescMessage, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, Transport, UnaryResponse } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type { Attributes } from "@opentelemetry/api";
import { ConnectivityState } from "../core/connectivity.js";
import { type HealthStatus, HealthWatcher, type ResolvedHealthCheck } from "../health/health-check.js";
import type { AddressAttributes } from "../resolver/address.js";
import type { MessageSizes } from "../telemetry/call-telemetry.js";
import { binarySize } from "../telemetry/sizes.js";
import { peerAttributes } from "../telemetry/tracing.js";
import { connectFastPathAllowed, connectUnaryOptions, fastConnectUnary } from "./connect-unary.js";
import type { EndpointTransportOptions, PoolProtocol } from "./endpoint-options.js";
import { type FastUnaryOptions, fastGrpcUnary, type SerializerCache } from "./grpc-unary.js";
import type { EndpointListener, PoolEndpoint } from "./pool-endpoint.js";
import { Subchannel, type SubchannelListener, type SubchannelOptions } from "./subchannel.js";

/**
 * An endpoint's unary call: connect's `Transport["unary"]` plus `sizes`,
 * where the transport writes the attempt's message bytes when metrics are on.
 */
export type EndpointUnary = <I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: ConstructorParameters<typeof Headers>[0] | undefined,
  input: MessageInitShape<I>,
  contextValues?: ContextValues,
  sizes?: MessageSizes,
) => Promise<UnaryResponse<I, O>>;

/**
 * The fast unary path covers what it implements: binary gRPC without
 * interceptors or compression. Anything else takes connect-node's path.
 */
function fastPathAllowed(o: EndpointTransportOptions): boolean {
  return (
    (o.interceptors === undefined || o.interceptors.length === 0) &&
    o.useBinaryFormat !== false &&
    o.sendCompression === undefined &&
    (o.acceptCompression === undefined || o.acceptCompression.length === 0) &&
    o.jsonOptions === undefined
  );
}

/** How to make an {@link Endpoint}. */
export interface EndpointInit {
  /** Its connection's settings (the endpoint makes the subchannel and listens to it). */
  readonly subchannel: SubchannelOptions;
  /** Wire protocol. */
  readonly protocol: PoolProtocol;
  /** connect-node transport options, those set only. */
  readonly transportOptions: EndpointTransportOptions;
  /** Health watching, or false. */
  readonly healthCheck: false | ResolvedHealthCheck;
  /** Use the fast unary path when the options allow it. */
  readonly fastPath: boolean;
  /** The pool's serializers, shared by its endpoints' fast paths. */
  readonly serializers: SerializerCache;
  /** Count message sizes where the wire bytes are not seen (metrics on). Default false. */
  readonly measureSizes?: boolean;
  /** Receives its changes. */
  readonly listener: EndpointListener<Endpoint>;
}

/**
 * One address of the pool: its connection (the subchannel), a stock
 * connect-node transport running calls on that connection, its health as
 * the server reports it, whether outlier detection ejected it, and its
 * call counts.
 *
 * Its `state` is what the balancer sees: the connection's state, except that
 * a connected endpoint that reports NOT_SERVING or is ejected counts as
 * TRANSIENT_FAILURE (as gRPC maps health to the subchannel state). It owns
 * its subchannel's listener and reports every change upward once, through
 * its {@link EndpointListener}.
 */
export class Endpoint implements PoolEndpoint {
  /** The connection. */
  readonly subchannel: Subchannel;
  /** The stock connect-node transport on this endpoint's connection (streams, other protocols). */
  readonly transport: Transport;
  /**
   * How unary calls run: the lean gRPC path on node:http2 when the options
   * allow it (see `fastPathAllowed`), the lean Connect path for the Connect
   * protocol (see `connectFastPathAllowed`), else the connect-node transport.
   */
  readonly unary: EndpointUnary;
  /** `server.address` and `server.port` for spans: the pod's address. */
  readonly peerAttributes: Attributes;
  /** Its address's zone, node and hints from the latest resolution (the endpoint set keeps them current). */
  attributes: AddressAttributes | undefined;
  private inFlightCount = 0;
  private callCount = 0;
  private failureCount = 0;
  private ejected = false;
  private healthStatus: HealthStatus;
  private healthWhy: string | undefined;
  private readonly healthWatcher: HealthWatcher | undefined;
  private readonly listener: EndpointListener<Endpoint>;

  constructor(init: EndpointInit) {
    const { protocol, transportOptions: options, healthCheck: health, serializers } = init;
    this.listener = init.listener;
    const subchannel = new Subchannel(init.subchannel, this.subchannelListener);
    this.subchannel = subchannel;
    this.peerAttributes = peerAttributes(subchannel.address);
    const common = { ...options, baseUrl: subchannel.authority, sessionManager: subchannel };
    switch (protocol) {
      case "grpc":
        this.transport = createGrpcTransport(common);
        break;
      case "grpc-web":
        this.transport = createGrpcWebTransport({ ...common, httpVersion: "2" });
        break;
      case "connect":
        this.transport = createConnectTransport({ ...common, httpVersion: "2" });
        break;
    }
    if (init.fastPath && protocol === "grpc" && fastPathAllowed(options)) {
      const fastOptions: FastUnaryOptions = {
        readMaxBytes: options.readMaxBytes ?? 0xffffffff,
        writeMaxBytes: options.writeMaxBytes ?? 0xffffffff,
        binaryOptions: options.binaryOptions,
      };
      this.unary = (method, signal, timeoutMs, header, input, _contextValues, sizes) =>
        fastGrpcUnary(subchannel, serializers, fastOptions, method, signal, timeoutMs, header, input, sizes);
    } else if (init.fastPath && protocol === "connect" && connectFastPathAllowed(options)) {
      const connectOptions = connectUnaryOptions(options);
      this.unary = (method, signal, timeoutMs, header, input, _contextValues, sizes) =>
        fastConnectUnary(
          subchannel,
          serializers,
          connectOptions,
          method,
          signal,
          timeoutMs,
          header,
          input,
          sizes,
        );
    } else if (init.measureSizes) {
      // connect-node does not report bytes: count the messages' binary sizes.
      const transport = this.transport;
      this.unary = async (method, signal, timeoutMs, header, input, contextValues, sizes) => {
        if (sizes) sizes.sent = binarySize(method.input, input);
        const response = await transport.unary(method, signal, timeoutMs, header, input, contextValues);
        if (sizes) sizes.rcvd = binarySize(method.output, response.message);
        return response;
      };
    } else {
      this.unary = this.transport.unary.bind(this.transport);
    }
    this.healthStatus = health === false ? "UNCHECKED" : "PENDING";
    if (health !== false) {
      // A transport of their own: health checks always speak binary gRPC,
      // whatever the calls' protocol and format, and run only the
      // interceptors given for them, never the pool's (as grpc-go and
      // grpc-js, where health checks are below the channel's interceptors).
      const healthTransport = createGrpcTransport({
        baseUrl: subchannel.authority,
        sessionManager: subchannel,
        interceptors: health.interceptors,
      });
      this.healthWatcher = new HealthWatcher(healthTransport, health.service, (status, why) => {
        if (status === this.healthStatus) return;
        this.healthStatus = status;
        this.healthWhy = why;
        this.listener.onChange(this, undefined);
      });
    }
  }

  /** "127.0.0.2:8081" */
  get address(): string {
    return this.subchannel.key;
  }

  /** Calls running now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Calls started here. */
  get calls(): number {
    return this.callCount;
  }

  /** Calls that ended with an error. */
  get failures(): number {
    return this.failureCount;
  }

  /** "PENDING" until the first health answer when checking is on, else "UNCHECKED". */
  get health(): HealthStatus {
    return this.healthStatus;
  }

  /** Why health checking says NOT_SERVING, for stats. */
  get healthReason(): string | undefined {
    return this.healthWhy;
  }

  /** Why the last connection attempt failed or the last connection was lost. */
  get lastError(): Error | undefined {
    return this.subchannel.lastError;
  }

  /** Connections open for new streams now (more than one with connection scaling, gRFC A105). */
  get openConnections(): number {
    return this.subchannel.openConnections;
  }

  /** Connections that reached READY since the endpoint joined the pool. */
  get connectionsOpened(): number {
    return this.subchannel.connectionsOpened;
  }

  /** READY connections lost so far; a call that saw this change lost its connection. */
  get connectionLosses(): number {
    return this.subchannel.connectionLosses;
  }

  /** A call starts here. */
  callStarted(): void {
    this.inFlightCount++;
    this.callCount++;
  }

  /** A call that started here ended; `failed` when with an error. */
  callEnded(failed: boolean): void {
    this.inFlightCount--;
    if (failed) this.failureCount++;
  }

  /** Outlier detection ejects it (true) or lets it back in (false); reported as a change. */
  setEjected(ejected: boolean): void {
    if (this.ejected === ejected) return;
    this.ejected = ejected;
    this.listener.onChange(this, undefined);
  }

  /** Asks for a connection (the policy wants this endpoint connected). */
  connect(): void {
    this.subchannel.requestConnection();
  }

  /** The policy no longer wants it connected: cancels the attempt or closes the connection after its calls. */
  release(): void {
    this.subchannel.release();
  }

  /** Leaves the pool: no new calls; in-flight calls finish, then the connection closes. */
  shutdown(): Promise<void> {
    return this.subchannel.shutdown(true);
  }

  /** The balancer's view: the connection's state, lowered by health and ejection. */
  get state(): ConnectivityState {
    const state = this.subchannel.state;
    if (state !== ConnectivityState.READY) return state;
    if (this.healthStatus === "NOT_SERVING" || this.ejected) return ConnectivityState.TRANSIENT_FAILURE;
    // gRFC A17: with health checking on, not READY before the first answer.
    if (this.healthStatus === "PENDING") return ConnectivityState.CONNECTING;
    return state;
  }

  /**
   * True while liveness doubts its server (a liveness PING pending, or calls
   * waiting too long with nothing back): the endpoint set gives it no new
   * picks meanwhile, unless every READY endpoint is suspect.
   */
  get suspect(): boolean {
    return this.subchannel.suspect;
  }

  /** The connection's state, without health or ejection. */
  get connectivity(): ConnectivityState {
    return this.subchannel.state;
  }

  /** The subchannel's events: health watching follows the connection; the change goes up once. */
  private readonly subchannelListener: SubchannelListener = {
    onStateChange: (subchannel, previous, error) => {
      this.connectionChanged();
      this.listener.onChange(this, { previous, state: subchannel.state, error });
    },
    onGoaway: () => this.listener.onGoaway(this),
    // Suspicion leaves the state alone: the endpoint set reads `suspect` when it rebuilds the picker.
    onSuspectChange: () => this.listener.onChange(this, undefined),
  };

  /** Starts or stops health watching as the connection comes and goes. */
  private connectionChanged(): void {
    if (this.subchannel.state === ConnectivityState.READY) {
      this.healthWatcher?.start();
    } else {
      this.healthWatcher?.stop();
      // A new connection is judged anew (a server without health service stays unchecked).
      if (this.healthStatus !== "UNCHECKED") {
        this.healthStatus = "PENDING";
        this.healthWhy = undefined;
      }
    }
  }
}
