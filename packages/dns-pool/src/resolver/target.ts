import { isIP } from "node:net";
import { closestName } from "../core/did-you-mean.js";
import { invalidArgument } from "../core/errors.js";
import { formatHostPort } from "./address.js";
import {
  bindTarget,
  PASSTHROUGH,
  type ParsedTarget,
  type PassthroughTarget,
  parsePassthrough,
} from "./builtin.js";
import { registeredScheme, registeredSchemes, type Target, targetUri } from "./registry.js";

export type { Target } from "./registry.js";

const EXAMPLES =
  "expected dns:///host:port, dns://dns-server[:port]/host:port, ipv4:a.b.c.d:port[,...], ipv6:[addr]:port[,...], unix:/path, kubernetes:///service.namespace:port or host:port";

/**
 * A target, parsed, with what the pool needs of its scheme: `authority`
 * (when the user sets none: the name asked for, never a pod IP) and
 * `createResolver` (through the scheme's registered factory).
 */
export type ResolvedTarget = ParsedTarget<Target>;

/**
 * Parses a target and finds its scheme's resolver in the registry; a
 * target whose scheme is not registered is `host:port` (passthrough).
 *
 * @throws ConnectError with Code.InvalidArgument, saying what is wrong.
 */
export function resolveTarget(target: string, defaultPort: number | undefined): ResolvedTarget {
  const fail = (why: string) => invalidArgument(`invalid target "${target}": ${why}; ${EXAMPLES}`);
  if (typeof target !== "string" || target.trim() === "") throw fail("the target is empty");
  if (target !== target.trim() || /\s/.test(target)) throw fail("the target contains white space");
  const colon = target.indexOf(":");
  const scheme = colon > 0 ? target.slice(0, colon).toLowerCase() : "";
  const registered = scheme === "" ? undefined : registeredScheme(scheme);
  if (registered) {
    const rest = target.slice(colon + 1);
    return registered(rest, defaultPort, fail, targetUri(target, scheme, rest));
  }
  // Not a known scheme: gRPC's default, passthrough of "host:port".
  return bindTarget(PASSTHROUGH, parseUnregistered(target, scheme, defaultPort, fail));
}

/**
 * Parses a gRPC-style target. `defaultPort` fills in a missing port; without
 * it a missing port is an error, because silently dialing 443 (what grpc-go
 * does) sends plaintext gRPC to a TLS port and fails in confusing ways.
 * Schemes added with `registerResolver()` are accepted too.
 *
 * @throws ConnectError with Code.InvalidArgument, saying what is wrong.
 */
export function parseTarget(target: string, defaultPort?: number): Target {
  return resolveTarget(target, defaultPort).parsed;
}

/** RFC 3986 scheme syntax (case-insensitive here: the scheme is lower-cased first). */
const SCHEME_SYNTAX = /^[a-z][a-z0-9+.-]*$/;

/** URL schemes people paste by mistake, and whether they mean TLS. */
const URL_SCHEMES: ReadonlyMap<string, boolean> = new Map([
  ["http", false],
  ["https", true],
  ["h2c", false],
  ["grpc", false],
  ["grpcs", true],
]);

/**
 * A target whose scheme is not registered: gRPC's default, passthrough of
 * "host:port". When it cannot be that, the prefix was meant as a scheme: a
 * URL gets advice on the target it should be, an unknown scheme the list
 * of registered ones.
 */
function parseUnregistered(
  target: string,
  scheme: string,
  defaultPort: number | undefined,
  fail: (why: string) => Error,
): PassthroughTarget {
  const tls = URL_SCHEMES.get(scheme);
  if (tls !== undefined && target.slice(scheme.length + 1).startsWith("//")) {
    throw invalidArgument(`invalid target "${target}": ${urlAdvice(target, tls)}`);
  }
  const rest = target.slice(scheme.length + 1);
  // "scheme:/..." or "scheme://...": a URI, certainly not host:port.
  if (SCHEME_SYNTAX.test(scheme) && rest.startsWith("/")) {
    throw invalidArgument(`invalid target "${target}": ${unknownScheme(scheme)}`);
  }
  let passthroughError: string | undefined;
  try {
    return parsePassthrough(target, defaultPort, (why) => {
      passthroughError = why;
      return fail(why);
    });
  } catch (err) {
    // "myhost:http" is a bad port or an unknown scheme: say both. A bare
    // IPv6 literal ("fd00::1") or a port-only error ("host:99999") is host:port.
    if (
      passthroughError === undefined ||
      scheme === "" ||
      !SCHEME_SYNTAX.test(scheme) ||
      isIP(target) !== 0 ||
      /^\d+$/.test(rest)
    ) {
      throw err;
    }
    // Near a registered scheme ("dsn:svc:80"): a typo, and host:port would only confuse.
    if (closestName(scheme, registeredSchemes()) !== undefined) throw fail(unknownScheme(scheme));
    throw fail(`${unknownScheme(scheme)}; read as host:port instead, ${passthroughError}`);
  }
}

/** "unknown scheme "dsn" (did you mean dns?): the registered schemes are ..." */
function unknownScheme(scheme: string): string {
  const schemes = registeredSchemes();
  const near = closestName(scheme, schemes);
  return `unknown scheme "${scheme}"${near === undefined ? "" : ` (did you mean ${near}?)`}: the registered schemes are ${schemes.join(", ")}; registerResolver() adds one`;
}

/** What to write instead of a URL: the gRPC target of the same host and port, and TLS if it said so. */
function urlAdvice(target: string, tls: boolean): string {
  const head = "createPoolTransport takes a gRPC target, not a URL";
  const tlsAdvice = tls ? " and set the tls option (tls: true, or TLS options)" : "";
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return `${head}: use dns:///host:port${tlsAdvice}`;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (host === "") return `${head}: use dns:///host:port${tlsAdvice}`;
  // URL drops the scheme's default port (443 for https): name it.
  const port = url.port !== "" ? Number(url.port) : tls ? 443 : 80;
  const hostPort = formatHostPort(host, port);
  const family = isIP(host);
  const alternative = family === 4 ? ` (or ipv4:${hostPort})` : family === 6 ? ` (or ipv6:${hostPort})` : "";
  const path =
    url.pathname !== "/" && url.pathname !== ""
      ? `; a path (${url.pathname}) is not part of a target, calls name their own`
      : "";
  return `${head}: use dns:///${hostPort}${alternative}${tlsAdvice}${path}`;
}
