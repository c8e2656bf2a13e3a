import type { Target } from "../target.js";
import { BUILTIN_SCHEMES, type SchemeHandler } from "./builtin.js";
import type { ResolverFactory, TargetUri } from "./resolver.js";

/**
 * Resolvers by target scheme. The built-in schemes (dns, ipv4, ipv6, unix,
 * unix-abstract, passthrough, kubernetes, k8s) are entries like any other;
 * {@link registerResolver} adds or replaces one.
 */
const schemes = new Map<string, SchemeHandler>(BUILTIN_SCHEMES);

/** RFC 3986 scheme syntax. */
const SCHEME = /^[a-z][a-z0-9+.-]*$/;

/**
 * Registers a resolver for targets `scheme:...`, for every pool created
 * afterwards, as grpc-js's `registerResolver`. A later registration of the
 * same scheme replaces the earlier one (also a built-in). Targets of the
 * scheme then parse to `{ scheme: "custom", uri }`.
 *
 * @param scheme - lower case, RFC 3986 syntax, e.g. "consul".
 * @throws TypeError for a scheme that is not RFC 3986 syntax.
 */
export function registerResolver(scheme: string, factory: ResolverFactory): void {
  if (!SCHEME.test(scheme)) {
    throw new TypeError(
      `invalid resolver scheme ${JSON.stringify(scheme)}: expected RFC 3986 syntax, lower case`,
    );
  }
  schemes.set(scheme, customScheme(factory));
}

/** The schemes targets may use, built-in and registered, sorted. */
export function registeredSchemes(): string[] {
  return [...schemes.keys()].sort();
}

/** The handler for a scheme, or undefined when it is not registered. */
export function schemeHandler(scheme: string): SchemeHandler | undefined {
  return schemes.get(scheme);
}

/** Splits what follows "scheme:" into authority and endpoint (gRPC naming spec). */
export function targetUri(target: string, scheme: string, rest: string): TargetUri {
  if (!rest.startsWith("//")) return { scheme, authority: "", endpoint: rest, target };
  const slash = rest.indexOf("/", 2);
  if (slash < 0) return { scheme, authority: rest.slice(2), endpoint: "", target };
  return { scheme, authority: rest.slice(2, slash), endpoint: rest.slice(slash + 1), target };
}

/** A user's factory in the registry's form: its targets parse to `{ scheme: "custom", uri }`. */
function customScheme(factory: ResolverFactory): SchemeHandler {
  const uriOf = (target: Target) => (target as Extract<Target, { scheme: "custom" }>).uri;
  return {
    parse(_rest, defaultPort, _fail, uri) {
      factory.validate?.(uri, defaultPort);
      return { scheme: "custom", uri };
    },
    create: (target, options) => factory.create(uriOf(target), options),
    authority: (target) => factory.defaultAuthority?.(uriOf(target)) ?? uriOf(target).endpoint,
  };
}
