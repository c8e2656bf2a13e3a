import type { DescMessage, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import type { ContextValues, Interceptor, Transport, UnaryResponse } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type { Attributes } from "@opentelemetry/api";
import { ConnectivityState } from "../core/connectivity.js";
import { type HealthStatus, HealthWatcher } from "../health/health-check.js";
import type { OutlierTracked } from "../health/outlier-detection.js";
import type { MessageSizes } from "../telemetry/call-telemetry.js";
import { binarySize } from "../telemetry/sizes.js";
import { peerAttributes } from "../telemetry/tracing.js";
import type { EndpointTransportOptions, PoolProtocol } from "./endpoint-options.js";
import { type FastUnaryOptions, fastGrpcUnary, type SerializerCache } from "./grpc-unary.js";
import type { PoolEndpoint } from "./pool-endpoint.js";
import type { Subchannel } from "./subchannel.js";

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

/**
 * One address of the pool: its connection (the subchannel), a stock
 * connect-node transport running calls on that connection, its health as
 * the server reports it, its outlier-ejection record and call counts.
 *
 * Its `state` is what the balancer sees: the connection's state, except that
 * a connected endpoint that reports NOT_SERVING or is ejected counts as
 * TRANSIENT_FAILURE (as gRPC maps health to the subchannel state).
 */
export class Endpoint implements PoolEndpoint, OutlierTracked {
  /** Calls running now. */
  inFlight = 0;
  /** Calls started here. */
  calls = 0;
  /** Calls that ended with an error. */
  failures = 0;
  /** Outlier detection: successes since the last sweep. */
  intervalSuccesses = 0;
  /** Outlier detection: failures since the last sweep. */
  intervalFailures = 0;
  /** Outlier detection: ejected until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil = 0;
  /** Outlier detection: grows with each ejection (A50's multiplier). */
  ejectionMultiplier = 0;
  /** "PENDING" until the first health answer when checking is on, else "UNCHECKED". */
  health: HealthStatus;
  /** Why health checking says NOT_SERVING, for stats. */
  healthReason: string | undefined;
  /** The stock connect-node transport on this endpoint's connection (streams, other protocols). */
  readonly transport: Transport;
  /**
   * How unary calls run: the lean gRPC path on node:http2 when the options
   * allow it (see `fastPathAllowed`), else the connect-node transport.
   */
  readonly unary: EndpointUnary;
  /** `server.address` and `server.port` for spans: the pod's address. */
  readonly peerAttributes: Attributes;
  private readonly healthWatcher: HealthWatcher | undefined;

  constructor(
    readonly subchannel: Subchannel,
    protocol: PoolProtocol,
    options: EndpointTransportOptions,
    health: { service: string; interceptors: Interceptor[] | undefined } | undefined,
    onHealthChange: () => void,
    fastPath: boolean,
    serializers: SerializerCache,
    measureSizes = false,
  ) {
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
    if (fastPath && protocol === "grpc" && fastPathAllowed(options)) {
      const fastOptions: FastUnaryOptions = {
        readMaxBytes: options.readMaxBytes ?? 0xffffffff,
        writeMaxBytes: options.writeMaxBytes ?? 0xffffffff,
        binaryOptions: options.binaryOptions,
      };
      this.unary = (method, signal, timeoutMs, header, input, _contextValues, sizes) =>
        fastGrpcUnary(subchannel, serializers, fastOptions, method, signal, timeoutMs, header, input, sizes);
    } else if (measureSizes) {
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
    this.health = health === undefined ? "UNCHECKED" : "PENDING";
    if (health !== undefined) {
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
        if (status === this.health) return;
        this.health = status;
        this.healthReason = why;
        onHealthChange();
      });
    }
  }

  /** "127.0.0.2:8081" */
  get address(): string {
    return this.subchannel.key;
  }

  /** Why the last connection attempt failed or the last connection was lost. */
  get lastError(): Error | undefined {
    return this.subchannel.lastError;
  }

  /** READY connections lost so far; a call that saw this change lost its connection. */
  get connectionLosses(): number {
    return this.subchannel.connectionLosses;
  }

  /** Asks for a connection (the policy wants this endpoint connected). */
  connect(): void {
    this.subchannel.requestConnection();
  }

  /** Leaves the pool: no new calls; in-flight calls finish, then the connection closes. */
  shutdown(): Promise<void> {
    return this.subchannel.shutdown(true);
  }

  /** The balancer's view: the connection's state, lowered by health and ejection. */
  get state(): ConnectivityState {
    const state = this.subchannel.state;
    if (state !== ConnectivityState.READY) return state;
    if (this.health === "NOT_SERVING" || this.ejectedUntil !== 0) return ConnectivityState.TRANSIENT_FAILURE;
    // gRFC A17: with health checking on, not READY before the first answer.
    if (this.health === "PENDING") return ConnectivityState.CONNECTING;
    return state;
  }

  /** The connection's state, without health or ejection. */
  get connectivity(): ConnectivityState {
    return this.subchannel.state;
  }

  /** Starts or stops health watching as the connection comes and goes. */
  connectionChanged(): void {
    if (this.subchannel.state === ConnectivityState.READY) {
      this.healthWatcher?.start();
    } else {
      this.healthWatcher?.stop();
      // A new connection is judged anew (a server without health service stays unchecked).
      if (this.health !== "UNCHECKED") {
        this.health = "PENDING";
        this.healthReason = undefined;
      }
    }
  }
}
