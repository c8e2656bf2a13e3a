import { isIP } from "node:net";

/** A TCP endpoint: an IP address (or, for passthrough, a host name) and a port. */
export interface TcpAddress {
  /** An IP address, or a host name for passthrough. */
  readonly host: string;
  /** The TCP port. */
  readonly port: number;
}

/** A Unix domain socket endpoint. */
export interface UnixAddress {
  /** The socket's path; a leading NUL byte means Linux's abstract namespace. */
  readonly path: string;
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
