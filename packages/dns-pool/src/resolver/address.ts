import { isIP } from "node:net";

/** A TCP endpoint: an IP address (or, for passthrough, a host name) and a port. */
export interface TcpAddress {
  /** An IP address, or a host name for passthrough. */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
  /** Where the endpoint runs (zone, node), when the resolver knows. Default: none. */
  readonly attributes?: AddressAttributes | undefined;
}

/** A Unix domain socket endpoint. */
export interface UnixAddress {
  /** The socket's path; a leading NUL byte means Linux's abstract namespace. */
  readonly path: string;
  /** Where the endpoint runs, when the resolver knows. Default: none. */
  readonly attributes?: AddressAttributes | undefined;
}

/**
 * What a resolver knows of where an endpoint runs, for zone-aware
 * routing (the `locality` option). Every field is optional: DNS knows
 * none of them, the `kubernetes:` resolver reads them from the
 * EndpointSlice (`zone`, `nodeName`, `hints.forZones`, `conditions`).
 * Attributes do not take part in an address's identity: the same
 * host:port with new attributes is the same endpoint, its attributes
 * updated.
 */
export interface AddressAttributes {
  /** The endpoint's zone (`topology.kubernetes.io/zone` of its node). Default: unknown. */
  readonly zone?: string;
  /** The node the endpoint runs on. Default: unknown. */
  readonly nodeName?: string;
  /**
   * Topology hints: the zones whose clients should use this endpoint
   * (EndpointSlice `hints.forZones`, set by Kubernetes' topology-aware
   * routing and by `trafficDistribution`). Default: none (no hints).
   */
  readonly forZones?: readonly string[];
  /**
   * True for a pod that is shutting down but still serving (EndpointSlice
   * `serving: true, terminating: true`): used only when no other endpoint
   * is ready, as kube-proxy does. Default false.
   */
  readonly terminating?: boolean;
}

/** Where one endpoint (one pod) listens. */
export type Address = TcpAddress | UnixAddress;

/** True for a Unix domain socket address. */
export function isUnixAddress(address: Address): address is UnixAddress {
  return "path" in address;
}

/**
 * The canonical string of an address, used as its identity in the pool:
 * "10.0.0.1:8081", "[fd00::1]:8081", "unix:/run/rng.sock".
 */
export function formatAddress(address: Address): string {
  if (isUnixAddress(address)) return `unix:${address.path}`;
  return formatHostPort(address.host, address.port);
}

/** "host:port", with brackets around an IPv6 literal. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
