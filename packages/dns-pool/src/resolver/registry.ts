import { BUILTIN_SCHEMES, type BuiltinTarget, type Scheme, type SchemeHandler, toScheme } from "./builtin.js";
import type { ResolverFactory, TargetUri } from "./resolver.js";

/** A target of a scheme added with `registerResolver()`: its resolver gets `uri`. */
export interface CustomTarget {
  /** Always "custom"; `uri.scheme` is the registered scheme. */
  readonly scheme: "custom";
  /** The target split per the naming spec. */
  readonly uri: TargetUri;
}

/**
 * A parsed target, following the gRPC naming spec
 * (https://github.com/grpc/grpc/blob/master/doc/naming.md): one of the
 * built-in schemes' targets, or a registered scheme's.
 */
export type Target = BuiltinTarget | CustomTarget;

/**
 * Resolvers by target scheme. The built-in schemes (dns, ipv4, ipv6, unix,
 * unix-abstract, passthrough, kubernetes, k8s) are entries like any other;
 * {@link registerResolver} adds or replaces one.
 */
const schemes = new Map<string, Scheme<Target>>(BUILTIN_SCHEMES);

/** RFC 3986 scheme syntax. */
const SCHEME = /^[a-z][a-z0-9+.-]*$/;

/**
 * Registers a resolver for targets `scheme:...`, for every pool created
 * afterwards, as grpc-js's `registerResolver`. A later registration of the
 * same scheme replaces the earlier one (also a built-in). Targets of the
 * scheme then parse to `{ scheme: "custom", uri }`.
 *
 * @param name - the scheme, lower case, RFC 3986 syntax, e.g. "consul".
 * @throws TypeError for a scheme that is not RFC 3986 syntax.
 */
export function registerResolver(name: string, factory: ResolverFactory): void {
  if (!SCHEME.test(name)) {
    throw new TypeError(
      `invalid resolver scheme ${JSON.stringify(name)}: expected RFC 3986 syntax, lower case`,
    );
  }
  schemes.set(name, toScheme(customScheme(factory)));
}

/** The schemes targets may use, built-in and registered, sorted. */
export function registeredSchemes(): string[] {
  return [...schemes.keys()].sort();
}

/** The registered scheme `name`, or undefined when there is none. */
export function registeredScheme(name: string): Scheme<Target> | undefined {
  return schemes.get(name);
}

/** Splits what follows "scheme:" into authority and endpoint (gRPC naming spec). */
export function targetUri(target: string, scheme: string, rest: string): TargetUri {
  if (!rest.startsWith("//")) return { scheme, authority: "", endpoint: rest, target };
  const slash = rest.indexOf("/", 2);
  if (slash < 0) return { scheme, authority: rest.slice(2), endpoint: "", target };
  return { scheme, authority: rest.slice(2, slash), endpoint: rest.slice(slash + 1), target };
}

/** A user's factory in the registry's form: its targets parse to `{ scheme: "custom", uri }`. */
function customScheme(factory: ResolverFactory): SchemeHandler<CustomTarget> {
  return {
    parse(_rest, defaultPort, _fail, uri) {
      factory.validate?.(uri, defaultPort);
      return { scheme: "custom", uri };
    },
    create: (target, options) => factory.create(target.uri, options),
    authority: (target) => factory.defaultAuthority?.(target.uri) ?? target.uri.endpoint,
  };
}
