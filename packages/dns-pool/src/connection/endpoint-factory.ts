import { isIP } from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import type { PoolTransportOptions } from "../options.js";
import type { ResolvedPoolOptions } from "../options-resolve.js";
import { type Address, isUnixAddress } from "../resolver/address.js";
import type { PoolTelemetry } from "../telemetry/pool-telemetry.js";
import { Endpoint, type EndpointTransportOptions, endpointTransportOptions } from "./endpoint.js";
import { SerializerCache } from "./grpc-unary.js";
import { Subchannel, type SubchannelListener } from "./subchannel.js";

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
  private readonly transportOptions: EndpointTransportOptions;
  private readonly serializers = new SerializerCache();

  /** @throws ConnectError (InvalidArgument) for an authority that is not host[:port]. */
  constructor(
    private readonly raw: PoolTransportOptions,
    private readonly options: ResolvedPoolOptions,
    authority: string,
    private readonly listener: SubchannelListener,
    private readonly onHealthChange: () => void,
    private readonly telemetry: PoolTelemetry,
  ) {
    this.origin = `${raw.tls ? "https" : "http"}://${authority}`;
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
    this.transportOptions = endpointTransportOptions(raw);
  }

  /** A new endpoint for `address`, IDLE until the policy asks for a connection. */
  create(address: Address): Endpoint {
    const tls = this.raw.tls;
    const o = this.options;
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
        connectTimeoutMs: o.connectTimeoutMs,
        keepalive: o.keepalive,
        backoff: o.reconnectBackoff,
        http2Options: this.raw.http2Options,
        telemetry: this.telemetry.subchannel,
      },
      this.listener,
    );
    return new Endpoint(
      subchannel,
      o.protocol,
      this.transportOptions,
      o.healthCheck || undefined,
      this.onHealthChange,
      o.fastPath,
      this.serializers,
      this.telemetry.sizesOn,
    );
  }
}
