import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { Target } from "../target.js";
import { formatHostPort, type TcpAddress } from "./address.js";
import { DnsResolver } from "./dns-resolver.js";
import { checkHost, splitHostPort, type TargetFail } from "./host-port.js";
import { KubernetesResolver } from "./kubernetes-resolver.js";
import { type Resolver, type ResolverOptions, StaticResolver, type TargetUri } from "./resolver.js";

/**
 * One registered scheme, as the registry keeps it: how to parse a target
 * of the scheme, make its resolver and name its default authority. User
 * {@link ResolverFactory}s are wrapped into this form.
 */
export interface SchemeHandler {
  /** Parses what follows "scheme:" (`rest`; `uri` is the same split per the naming spec). */
  parse(rest: string, defaultPort: number | undefined, fail: TargetFail, uri: TargetUri): Target;
  /** The resolver for a target this handler parsed. */
  create(target: Target, options: ResolverOptions): Resolver;
  /** `:authority` for the target when the user sets none. */
  authority(target: Target): string;
}

const DNS_PORT = 53;

/** `dns:[//dns-server[:port]/]host[:port]`: A/AAAA (or SRV) lookups; an IP literal needs none. */
const dns: SchemeHandler = {
  parse(rest, defaultPort, fail) {
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
  },
  create(target, options) {
    const t = target as Extract<Target, { scheme: "dns" }>;
    // An IP literal needs no DNS query (as in gRPC).
    if (isIP(t.host)) return new StaticResolver([{ host: t.host, port: t.port }]);
    return new DnsResolver({ ...options, host: t.host, port: t.port, dnsServer: t.dnsServer });
  },
  authority: (target) => hostPortAuthority(target),
};

/** `ipv4:a:p[,b:p]` and `ipv6:[a]:p[,[b]:p]`: fixed addresses. */
function ipList(family: 4 | 6): SchemeHandler {
  return {
    parse(rest, defaultPort, fail) {
      const addresses = rest.split(",").map((item) => {
        if (item === "") throw fail("an address in the list is empty");
        const { host, port } = splitHostPort(item, defaultPort, fail);
        if (isIP(host) !== family) throw fail(`"${host}" is not an IPv${family} address`);
        return { host, port };
      });
      return { scheme: family === 4 ? "ipv4" : "ipv6", addresses };
    },
    create: (target) => new StaticResolver([...(target as { addresses: readonly TcpAddress[] }).addresses]),
    authority(target) {
      const first = (target as { addresses: readonly TcpAddress[] }).addresses[0] as TcpAddress;
      return formatHostPort(first.host, first.port);
    },
  };
}

/** `unix:path`, `unix:///abs/path`: a Unix domain socket. */
const unix: SchemeHandler = {
  parse(rest, _defaultPort, fail) {
    const path = rest.startsWith("//") ? rest.slice(2) : rest;
    if (rest.startsWith("//") && !path.startsWith("/"))
      throw fail("unix:// must be followed by an absolute path");
    if (path === "") throw fail("the socket path is missing");
    return { scheme: "unix", path };
  },
  create: (target) => new StaticResolver([{ path: (target as { path: string }).path }]),
  authority: () => "localhost",
};

/** `unix-abstract:name`: a socket in Linux's abstract namespace. */
const unixAbstract: SchemeHandler = {
  ...unix,
  parse(rest, _defaultPort, fail) {
    if (rest === "") throw fail("the abstract socket name is missing");
    return { scheme: "unix", path: `\0${rest}` };
  },
};

/** `passthrough:///host:port` (and any target without a registered scheme): one address, the OS resolves. */
const passthrough: SchemeHandler = {
  parse(rest, defaultPort, fail) {
    const endpoint = rest.startsWith("//") ? rest.slice(rest.indexOf("/", 2) + 1) : rest;
    return parsePassthrough(endpoint, defaultPort, fail);
  },
  create(target) {
    const t = target as Extract<Target, { scheme: "passthrough" }>;
    return new StaticResolver([{ host: t.host, port: t.port }]);
  },
  authority: (target) => hostPortAuthority(target),
};

/** `kubernetes:///service[.namespace]:port` (or `k8s:///`): the Service's EndpointSlices. */
const kubernetes: SchemeHandler = {
  parse(rest, _defaultPort, fail) {
    if (!rest.startsWith("///")) throw fail("kubernetes: must be followed by ///service.namespace:port");
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
  },
  create(target, options) {
    const t = target as Extract<Target, { scheme: "kubernetes" }>;
    return new KubernetesResolver({
      service: t.service,
      namespace: t.namespace ?? podNamespace(),
      port: t.port,
      kubeConfig: options.kubeConfig,
      initialBackoffMs: options.minResolveIntervalMs,
      maxBackoffMs: options.maxResolveIntervalMs,
    });
  },
  authority(target) {
    const t = target as Extract<Target, { scheme: "kubernetes" }>;
    const host = `${t.service}.${t.namespace ?? "default"}`;
    return typeof t.port === "number" ? `${host}:${t.port}` : host;
  },
};

/** `k8s:` is `kubernetes:`, with its own name in messages. */
const k8s: SchemeHandler = {
  ...kubernetes,
  parse(rest, defaultPort, fail, uri) {
    if (!rest.startsWith("///")) throw fail("k8s: must be followed by ///service.namespace:port");
    return kubernetes.parse(rest, defaultPort, fail, uri);
  },
};

/** The schemes every pool knows, registered in the registry at load. */
export const BUILTIN_SCHEMES: ReadonlyMap<string, SchemeHandler> = new Map([
  ["dns", dns],
  ["ipv4", ipList(4)],
  ["ipv6", ipList(6)],
  ["unix", unix],
  ["unix-abstract", unixAbstract],
  ["passthrough", passthrough],
  ["kubernetes", kubernetes],
  ["k8s", k8s],
]);

/** The handler for targets with no registered scheme: gRPC's default, passthrough. */
export const PASSTHROUGH: SchemeHandler = passthrough;

/** `host:port` as a passthrough target. */
export function parsePassthrough(
  endpoint: string,
  defaultPort: number | undefined,
  fail: TargetFail,
): Target {
  const { host, port } = splitHostPort(endpoint, defaultPort, fail);
  return { scheme: "passthrough", host: checkHost(host, fail), port };
}

function hostPortAuthority(target: Target): string {
  const t = target as { host: string; port: number };
  return formatHostPort(t.host, t.port);
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
