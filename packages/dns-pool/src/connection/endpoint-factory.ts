import { isIP } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import type { BackoffOptions } from "../core/backoff.js";
import type { ResolvedHealthCheck } from "../health/health-check.js";
import { type Address, isUnixAddress } from "../resolver/address.js";
import type { PoolTelemetry } from "../telemetry/pool-telemetry.js";
import type { ConnectionScaling } from "./connection-scaling.js";
import { Endpoint } from "./endpoint.js";
import type {
  EndpointTransportOptions,
  PoolHttp2Options,
  PoolProtocol,
  PoolTlsOptions,
} from "./endpoint-options.js";
import { SerializerCache } from "./grpc-unary.js";
import type { KeepaliveOptions } from "./http2-connection.js";
import { type ResolvedLiveness, ResponseTimes } from "./liveness.js";
import type { EndpointListener } from "./pool-endpoint.js";

/** The resolved pool options the endpoints are made with (each is the option of the same name). */
export interface EndpointOptions {
  /** Wire protocol. */
  readonly protocol: PoolProtocol;
  /** TLS settings, or false for plaintext (`tls: true` resolves to `{}`). */
  readonly tls: false | PoolTlsOptions;
  /** Extra `http2.connect()` options, or undefined. */
  readonly http2Options: PoolHttp2Options | undefined;
  /** Per connection attempt. */
  readonly connectTimeoutMs: number;
  /** Keepalive pings. */
  readonly keepalive: KeepaliveOptions;
  /** Silent-connection detection, or false for none. */
  readonly liveness: ResolvedLiveness | false;
  /** Delays between connection attempts. */
  readonly reconnectBackoff: BackoffOptions;
  /** Health watching, or false. */
  readonly healthCheck: false | ResolvedHealthCheck;
  /** Use the fast unary path where it applies. */
  readonly fastPath: boolean;
  /** The connect-node transport options passed through to every endpoint, those set only. */
  readonly endpointTransport: EndpointTransportOptions;
  /**
   * Connections per endpoint (`maxConnectionsPerEndpoint`,
   * `minConnectionsPerEndpoint`, `extraConnectionIdleMs`). Default: one.
   */
  readonly connectionScaling?: ConnectionScaling;
}

/**
 * Makes the pool's endpoints: one {@link Subchannel} per address, all with
 * the same origin (`:authority`), TLS server name and transport options,
 * computed once per pool.
 */
export class EndpointFactory {
  /** The origin of every request, e.g. "http://rng-headless:8081". */
  readonly origin: string;
  /** The TLS server name: the authority's host, unless that is an IP literal. */
  private readonly sniHost: string | undefined;
  private readonly serializers = new SerializerCache();
  /** What "normal" is for liveness: every connection of the pool feeds and reads it. */
  private readonly responseTimes = new ResponseTimes();

  /**
   * @param options - the pool's resolved options for endpoints.
   * @param authority - `:authority` of every request: the option, else the target's default.
   * @throws ConnectError (InvalidArgument) for an authority that is not host[:port].
   */
  constructor(
    private readonly options: EndpointOptions,
    authority: string,
    private readonly telemetry: PoolTelemetry,
  ) {
    this.origin = `${options.tls ? "https" : "http"}://${authority}`;
    let authorityHost: string;
    try {
      authorityHost = new URL(this.origin).hostname.replace(/^\[|\]$/g, "");
    } catch {
      // A resolver's default authority can be wrong too (a custom scheme's endpoint need not be host:port).
      throw new ConnectError(
        `invalid authority "${authority}": expected host[:port]; set the authority option (or defaultAuthority in the resolver's factory)`,
        Code.InvalidArgument,
      );
    }
    // SNI must be a host name; RFC 6066 forbids IP literals there.
    this.sniHost = isIP(authorityHost) ? undefined : authorityHost;
  }

  /** A new endpoint for `address`, IDLE until the policy asks for a connection; it reports to `listener`. */
  create(address: Address, listener: EndpointListener<Endpoint>): Endpoint {
    const o = this.options;
    const tls = o.tls;
    return new Endpoint({
      subchannel: {
        address,
        authority: this.origin,
        tls:
          tls === false
            ? undefined
            : { servername: isUnixAddress(address) ? undefined : this.sniHost, ...tls },
        connectTimeoutMs: o.connectTimeoutMs,
        keepalive: o.keepalive,
        liveness: o.liveness,
        responseTimes: this.responseTimes,
        backoff: o.reconnectBackoff,
        http2Options: o.http2Options,
        telemetry: this.telemetry.subchannel,
        scaling: o.connectionScaling,
      },
      protocol: o.protocol,
      transportOptions: o.endpointTransport,
      healthCheck: o.healthCheck,
      fastPath: o.fastPath,
      serializers: this.serializers,
      measureSizes: this.telemetry.sizesOn,
      listener,
    });
  }
}
