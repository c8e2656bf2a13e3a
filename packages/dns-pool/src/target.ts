import { isIP } from "node:net";
import { type Address, formatHostPort, type TcpAddress } from "./address.js";
import { invalidArgument } from "./errors.js";

/**
 * A parsed target, following the gRPC naming spec
 * (https://github.com/grpc/grpc/blob/master/doc/naming.md).
 */
export type Target =
  | {
      /** `dns:[//authority/]host[:port]`: resolve host's A/AAAA records. */
      readonly scheme: "dns";
      /** The DNS server to ask (`authority`), or undefined for the system's. */
      readonly dnsServer: TcpAddress | undefined;
      readonly host: string;
      readonly port: number;
    }
  | {
      /** `ipv4:a:p,b:p`, `ipv6:[a]:p,[b]:p`: a fixed list of addresses. */
      readonly scheme: "ipv4" | "ipv6";
      readonly addresses: readonly TcpAddress[];
    }
  | {
      /** `unix:path`, `unix:///abs/path` or `unix-abstract:name`. */
      readonly scheme: "unix";
      readonly path: string;
    }
  | {
      /**
       * `kubernetes:///service.namespace:port` (or `k8s:///`): watch the
       * Service's EndpointSlices through the Kubernetes API. `port` is the
       * pod's port number or the name of a port of the Service.
       */
      readonly scheme: "kubernetes";
      readonly service: string;
      /** Undefined: the pod's own namespace (from its service account), else "default". */
      readonly namespace: string | undefined;
      readonly port: number | string;
    }
  | {
      /** `host:port` or `passthrough:///host:port`: one connection, the OS resolves. */
      readonly scheme: "passthrough";
      readonly host: string;
      readonly port: number;
    };

const DNS_PORT = 53;
const SCHEMES = ["dns", "ipv4", "ipv6", "unix", "unix-abstract", "passthrough", "kubernetes", "k8s"];
const EXAMPLES =
  "expected dns:///host:port, dns://dns-server[:port]/host:port, ipv4:a.b.c.d:port[,...], ipv6:[addr]:port[,...], unix:/path, kubernetes:///service.namespace:port or host:port";

/**
 * Parses a gRPC-style target. `defaultPort` fills in a missing port; without
 * it a missing port is an error, because silently dialing 443 (what grpc-go
 * does) sends plaintext gRPC to a TLS port and fails in confusing ways.
 *
 * @throws ConnectError with Code.InvalidArgument, saying what is wrong.
 */
export function parseTarget(target: string, defaultPort?: number): Target {
  const fail = (why: string) => invalidArgument(`invalid target "${target}": ${why}; ${EXAMPLES}`);
  if (typeof target !== "string" || target.trim() === "") throw fail("the target is empty");
  if (target !== target.trim() || /\s/.test(target)) throw fail("the target contains white space");
  const colon = target.indexOf(":");
  const scheme = colon > 0 ? target.slice(0, colon).toLowerCase() : "";
  if (!SCHEMES.includes(scheme)) {
    // Not a known scheme: gRPC's default, passthrough of "host:port".
    const { host, port } = splitHostPort(target, defaultPort, fail);
    return { scheme: "passthrough", host: checkHost(host, fail), port };
  }
  const rest = target.slice(colon + 1);
  switch (scheme) {
    case "dns": {
      let authority = "";
      let endpoint = rest;
      if (rest.startsWith("//")) {
        const slash = rest.indexOf("/", 2);
        if (slash < 0) throw fail("dns://authority must be followed by /host:port");
        authority = rest.slice(2, slash);
        endpoint = rest.slice(slash + 1);
      }
      if (endpoint === "") throw fail("the host name is missing");
      const { host, port } = splitHostPort(endpoint, defaultPort, fail);
      let dnsServer: TcpAddress | undefined;
      if (authority !== "") {
        const a = splitHostPort(authority, DNS_PORT, fail);
        if (isIP(a.host) === 0)
          throw fail(`the DNS server "${authority}" must be an IP address with an optional port`);
        dnsServer = a;
      }
      return { scheme: "dns", dnsServer, host: checkHost(host, fail), port };
    }
    case "ipv4":
    case "ipv6": {
      const list = rest.split(",");
      const family = scheme === "ipv4" ? 4 : 6;
      const addresses = list.map((item) => {
        if (item === "") throw fail("an address in the list is empty");
        const { host, port } = splitHostPort(item, defaultPort, fail);
        if (isIP(host) !== family) throw fail(`"${host}" is not an IPv${family} address`);
        return { host, port };
      });
      return { scheme, addresses };
    }
    case "unix": {
      // unix:path (relative or absolute) or unix://absolute_path.
      const path = rest.startsWith("//") ? rest.slice(2) : rest;
      if (rest.startsWith("//") && !path.startsWith("/"))
        throw fail("unix:// must be followed by an absolute path");
      if (path === "") throw fail("the socket path is missing");
      return { scheme: "unix", path };
    }
    case "kubernetes":
    case "k8s": {
      if (!rest.startsWith("///")) throw fail(`${scheme}: must be followed by ///service.namespace:port`);
      const endpoint = rest.slice(3);
      const colon = endpoint.lastIndexOf(":");
      if (colon < 0) throw fail("the port (number or name) is missing");
      const name = endpoint.slice(0, colon);
      const portText = endpoint.slice(colon + 1);
      // service.namespace, also written service.namespace.svc[.cluster.local]
      const [service, namespace] = name.replace(/\.svc(\..*)?$/, "").split(".");
      const dnsLabel = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
      if (!service || !dnsLabel.test(service)) throw fail(`"${service ?? ""}" is not a valid Service name`);
      if (namespace !== undefined && !dnsLabel.test(namespace))
        throw fail(`"${namespace}" is not a valid namespace`);
      if (/^\d+$/.test(portText)) {
        const port = Number(portText);
        if (port < 1 || port > 65535) throw fail(`port "${portText}" is not a number from 1 to 65535`);
        return { scheme: "kubernetes", service, namespace, port };
      }
      if (!dnsLabel.test(portText)) throw fail(`"${portText}" is neither a port number nor a port name`);
      return { scheme: "kubernetes", service, namespace, port: portText };
    }
    case "unix-abstract":
      if (rest === "") throw fail("the abstract socket name is missing");
      return { scheme: "unix", path: `\0${rest}` };
    default: {
      // passthrough:///host:port
      const endpoint = rest.startsWith("//") ? rest.slice(rest.indexOf("/", 2) + 1) : rest;
      const { host, port } = splitHostPort(endpoint, defaultPort, fail);
      return { scheme: "passthrough", host: checkHost(host, fail), port };
    }
  }
}

/**
 * The authority (`:authority` / Host header and TLS server name) for calls to
 * a target: the name the client asked for, never a pod IP, so that virtual
 * hosting and TLS certificates keep working.
 */
export function defaultAuthority(target: Target): string {
  switch (target.scheme) {
    case "dns":
    case "passthrough":
      return formatHostPort(target.host, target.port);
    case "ipv4":
    case "ipv6": {
      const first = target.addresses[0] as TcpAddress;
      return formatHostPort(first.host, first.port);
    }
    case "unix":
      return "localhost";
    case "kubernetes": {
      const host = `${target.service}.${target.namespace ?? "default"}`;
      return typeof target.port === "number" ? `${host}:${target.port}` : host;
    }
  }
}

/** The addresses a target names directly, with no lookup; undefined for dns: names. */
export function staticAddresses(target: Target): Address[] | undefined {
  switch (target.scheme) {
    case "ipv4":
    case "ipv6":
      return [...target.addresses];
    case "unix":
      return [{ path: target.path }];
    case "passthrough":
      return [{ host: target.host, port: target.port }];
    case "kubernetes":
      return undefined;
    case "dns":
      // An IP literal needs no DNS query (as in gRPC).
      return isIP(target.host) ? [{ host: target.host, port: target.port }] : undefined;
  }
}

function splitHostPort(
  s: string,
  defaultPort: number | undefined,
  fail: (why: string) => Error,
): { host: string; port: number } {
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) throw fail(`"${s}" has "[" without "]"`);
    host = s.slice(1, close);
    const after = s.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) throw fail(`unexpected "${after}" after "]"`);
    portText = after === "" ? undefined : after.slice(1);
  } else {
    const colons = s.split(":").length - 1;
    if (colons > 1) {
      // A bare IPv6 literal (allowed without a port only).
      host = s;
      portText = undefined;
    } else {
      const i = s.lastIndexOf(":");
      host = i < 0 ? s : s.slice(0, i);
      portText = i < 0 ? undefined : s.slice(i + 1);
    }
  }
  if (host === "") throw fail("the host is missing");
  if (portText === undefined) {
    if (defaultPort === undefined) {
      throw fail(
        `"${s}" has no port: add one (e.g. ${formatHostPort(host, 8081)}) or set the defaultPort option`,
      );
    }
    return { host, port: defaultPort };
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw fail(`port "${portText}" is not a number from 1 to 65535`);
  }
  return { host, port: Number(portText) };
}

function checkHost(host: string, fail: (why: string) => Error): string {
  if (isIP(host)) return host;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  const label = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
  if (name.length === 0 || name.length > 253 || !name.split(".").every((l) => label.test(l))) {
    throw fail(`"${host}" is not a valid host name`);
  }
  return host;
}
