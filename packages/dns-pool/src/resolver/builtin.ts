import { readFileSync } from "node:fs";
import { isIP } from "node:net";
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
export interface SchemeHandler<T> {
  /** Parses what follows "scheme:" (`rest`; `uri` is the same split per the naming spec). */
  parse(rest: string, defaultPort: number | undefined, fail: TargetFail, uri: TargetUri): T;
  /** The resolver for a target this handler parsed. */
  create(target: T, options: ResolverOptions): Resolver;
  /** `:authority` for the target when the user sets none. */
  authority(target: T): string;
}

/** A target of `handler`'s scheme, parsed, with what the pool needs of the scheme. */
export interface ParsedTarget<T> {
  /** The parsed target. */
  readonly parsed: T;
  /** `:authority` when the user sets none. */
  readonly authority: string;
  /** The resolver for it. */
  createResolver(options: ResolverOptions): Resolver;
}

/** A target already parsed by `handler`, bound to it: the handler sees only its own type. */
export function bindTarget<T>(handler: SchemeHandler<T>, parsed: T): ParsedTarget<T> {
  return {
    parsed,
    authority: handler.authority(parsed),
    createResolver: (options) => handler.create(parsed, options),
  };
}

/** A scheme as the registry keeps it: parses what follows "scheme:" into a bound target. */
export type Scheme<T> = (
  rest: string,
  defaultPort: number | undefined,
  fail: TargetFail,
  uri: TargetUri,
) => ParsedTarget<T>;

/** `handler` in the registry's form. */
export function toScheme<T>(handler: SchemeHandler<T>): Scheme<T> {
  return (rest, defaultPort, fail, uri) => bindTarget(handler, handler.parse(rest, defaultPort, fail, uri));
}

/** `dns:[//authority/]host[:port]`: resolve host's A/AAAA records. */
export interface DnsTarget {
  /** The scheme. */
  readonly scheme: "dns";
  /** The DNS server to ask (`authority`), or undefined for the system's. */
  readonly dnsServer: TcpAddress | undefined;
  /** The name to resolve (or an IP literal, which needs no query). */
  readonly host: string;
  /** The port of every address. */
  readonly port: number;
}

/** `ipv4:a:p,b:p`, `ipv6:[a]:p,[b]:p`: a fixed list of addresses. */
export interface IpListTarget {
  /** The scheme. */
  readonly scheme: "ipv4" | "ipv6";
  /** The addresses, in the order given. */
  readonly addresses: readonly TcpAddress[];
}

/** `unix:path`, `unix:///abs/path` or `unix-abstract:name`. */
export interface UnixTarget {
  /** The scheme (also for `unix-abstract:`). */
  readonly scheme: "unix";
  /** The socket path; "\0name" for the abstract namespace. */
  readonly path: string;
}

/**
 * `kubernetes:///service.namespace:port` (or `k8s:///`): watch the
 * Service's EndpointSlices through the Kubernetes API. `port` is the
 * pod's port number or the name of a port of the Service.
 */
export interface KubernetesTarget {
  /** The scheme (also for `k8s:`). */
  readonly scheme: "kubernetes";
  /** The Service's name. */
  readonly service: string;
  /** Undefined: the pod's own namespace (from its service account), else "default". */
  readonly namespace: string | undefined;
  /** A port number, or the name of one of the Service's ports. */
  readonly port: number | string;
}

/** `host:port` or `passthrough:///host:port`: one connection, the OS resolves. */
export interface PassthroughTarget {
  /** The scheme. */
  readonly scheme: "passthrough";
  /** The host the OS resolves. */
  readonly host: string;
  /** The port. */
  readonly port: number;
}

const DNS_PORT = 53;

/** `dns:[//dns-server[:port]/]host[:port]`: A/AAAA (or SRV) lookups; an IP literal needs none. */
const dns: SchemeHandler<DnsTarget> = {
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
  create(t, options) {
    // An IP literal needs no DNS query (as in gRPC).
    if (isIP(t.host)) return new StaticResolver([{ host: t.host, port: t.port }]);
    return new DnsResolver({ ...options, host: t.host, port: t.port, dnsServer: t.dnsServer });
  },
  authority: (target) => hostPortAuthority(target),
};

/** `ipv4:a:p[,b:p]` and `ipv6:[a]:p[,[b]:p]`: fixed addresses. */
function ipList(family: 4 | 6): SchemeHandler<IpListTarget> {
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
    create: (target) => new StaticResolver([...target.addresses]),
    authority(target) {
      const first = target.addresses[0] as TcpAddress;
      return formatHostPort(first.host, first.port);
    },
  };
}

/** `unix:path`, `unix:///abs/path`: a Unix domain socket. */
const unix: SchemeHandler<UnixTarget> = {
  parse(rest, _defaultPort, fail) {
    const path = rest.startsWith("//") ? rest.slice(2) : rest;
    if (rest.startsWith("//") && !path.startsWith("/"))
      throw fail("unix:// must be followed by an absolute path");
    if (path === "") throw fail("the socket path is missing");
    return { scheme: "unix", path };
  },
  create: (target) => new StaticResolver([{ path: target.path }]),
  authority: () => "localhost",
};

/** `unix-abstract:name`: a socket in Linux's abstract namespace. */
const unixAbstract: SchemeHandler<UnixTarget> = {
  ...unix,
  parse(rest, _defaultPort, fail) {
    if (rest === "") throw fail("the abstract socket name is missing");
    return { scheme: "unix", path: `\0${rest}` };
  },
};

/** `passthrough:///host:port` (and any target without a registered scheme): one address, the OS resolves. */
const passthrough: SchemeHandler<PassthroughTarget> = {
  parse(rest, defaultPort, fail) {
    const endpoint = rest.startsWith("//") ? rest.slice(rest.indexOf("/", 2) + 1) : rest;
    return parsePassthrough(endpoint, defaultPort, fail);
  },
  create(t) {
    return new StaticResolver([{ host: t.host, port: t.port }]);
  },
  authority: (target) => hostPortAuthority(target),
};

/** `kubernetes:///service[.namespace]:port` (or `k8s:///`): the Service's EndpointSlices. */
const kubernetes: SchemeHandler<KubernetesTarget> = {
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
  create(t, options) {
    return new KubernetesResolver({
      service: t.service,
      namespace: t.namespace ?? podNamespace(),
      port: t.port,
      kubeConfig: options.kubeConfig,
      clientNode: options.clientNode,
      initialBackoffMs: options.minResolveIntervalMs,
      maxBackoffMs: options.maxResolveIntervalMs,
    });
  },
  authority(t) {
    const host = `${t.service}.${t.namespace ?? "default"}`;
    return typeof t.port === "number" ? `${host}:${t.port}` : host;
  },
};

/** `k8s:` is `kubernetes:`, with its own name in messages. */
const k8s: SchemeHandler<KubernetesTarget> = {
  ...kubernetes,
  parse(rest, defaultPort, fail, uri) {
    if (!rest.startsWith("///")) throw fail("k8s: must be followed by ///service.namespace:port");
    return kubernetes.parse(rest, defaultPort, fail, uri);
  },
};

/** The schemes every pool knows, registered in the registry at load. */
export const BUILTIN_SCHEMES: ReadonlyMap<string, Scheme<BuiltinTarget>> = new Map<
  string,
  Scheme<BuiltinTarget>
>([
  ["dns", toScheme(dns)],
  ["ipv4", toScheme(ipList(4))],
  ["ipv6", toScheme(ipList(6))],
  ["unix", toScheme(unix)],
  ["unix-abstract", toScheme(unixAbstract)],
  ["passthrough", toScheme(passthrough)],
  ["kubernetes", toScheme(kubernetes)],
  ["k8s", toScheme(k8s)],
]);

/** A target of a built-in scheme. */
export type BuiltinTarget = DnsTarget | IpListTarget | UnixTarget | KubernetesTarget | PassthroughTarget;

/** The handler for targets with no registered scheme: gRPC's default, passthrough. */
export const PASSTHROUGH: SchemeHandler<PassthroughTarget> = passthrough;

/** `host:port` as a passthrough target. */
export function parsePassthrough(
  endpoint: string,
  defaultPort: number | undefined,
  fail: TargetFail,
): PassthroughTarget {
  const { host, port } = splitHostPort(endpoint, defaultPort, fail);
  return { scheme: "passthrough", host: checkHost(host, fail), port };
}

function hostPortAuthority(t: { readonly host: string; readonly port: number }): string {
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
