import type { Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import type { Balanceable } from "./balancer/picker.js";
import type { ConnectivityState } from "./connectivity.js";
import type { PoolProtocol, PoolTransportOptions } from "./options.js";
import type { Subchannel } from "./subchannel.js";

/** The connect-node transport options a pool passes through to every endpoint. */
export type EndpointTransportOptions = Pick<
  PoolTransportOptions,
  | "interceptors"
  | "useBinaryFormat"
  | "jsonOptions"
  | "binaryOptions"
  | "acceptCompression"
  | "sendCompression"
  | "compressMinBytes"
  | "readMaxBytes"
  | "writeMaxBytes"
>;

/**
 * One address of the pool: its connection (the subchannel), a stock
 * connect-node transport running calls on that connection, and call counts.
 */
export class Endpoint implements Balanceable {
  /** Calls running now. */
  inFlight = 0;
  /** Calls started here. */
  calls = 0;
  /** Calls that ended with an error. */
  failures = 0;
  readonly transport: Transport;

  constructor(
    readonly subchannel: Subchannel,
    protocol: PoolProtocol,
    options: EndpointTransportOptions,
  ) {
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
  }

  /** "127.0.0.2:8081" */
  get address(): string {
    return this.subchannel.key;
  }

  get state(): ConnectivityState {
    return this.subchannel.state;
  }
}
