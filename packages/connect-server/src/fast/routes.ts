import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
  createMethodImplSpec,
  createServiceImplSpec,
  type MethodImplSpec,
} from "@connectrpc/connect";
import { type UniversalHandlerOptions, validateUniversalHandlerOptions } from "@connectrpc/connect/protocol";

/** One method registered on a router, with the options connect would serve it with. */
export interface RecordedMethod {
  /** The implementation, as connect wraps it (bound to the service object, or its UNIMPLEMENTED stand-in). */
  readonly spec: MethodImplSpec;
  /** The handler options connect derives for this method: router options, then the service's own. */
  readonly options: UniversalHandlerOptions;
  /** Whether connect serves this method over gRPC at all (`grpc: false` turns it off). */
  readonly grpc: boolean;
  /** Whether connect serves this method over the Connect protocol at all (`connect: false` turns it off). */
  readonly connect: boolean;
}

/** What a routes function registered, recorded once. */
export interface RecordedRoutes {
  /** Every method, in registration order. */
  readonly methods: readonly RecordedMethod[];
  /**
   * Registers the very same services and implementation objects on another
   * router (e.g. the one connectNodeAdapter creates), in the same order and
   * with the same options, so that both paths call the same functions and
   * the routes function runs only once.
   */
  replay(router: ConnectRouter): void;
}

type Registration =
  | { kind: "service"; service: DescService; impl: object; options?: Partial<UniversalHandlerOptions> }
  | { kind: "rpc"; method: DescMethod; impl: unknown; options?: Partial<UniversalHandlerOptions> };

/**
 * Runs `routes` once against a router that records each `service()` and
 * `rpc()` call and forwards it to a real `createConnectRouter(routerOptions)`
 * (so invalid options throw exactly as they would, and `router.handlers`
 * is the real list), then derives per method what connect would: the
 * implementation spec (`createServiceImplSpec` / `createMethodImplSpec`, the
 * functions connect itself uses) and the effective handler options, merged
 * as connect's `whichProtocols` merges them.
 */
export function recordRoutes(
  routes: (router: ConnectRouter) => void,
  routerOptions: ConnectRouterOptions,
): RecordedRoutes {
  const real = createConnectRouter(routerOptions);
  const registrations: Registration[] = [];
  const recorder: ConnectRouter = {
    get handlers() {
      return real.handlers;
    },
    service(service, impl, options) {
      real.service(service, impl, options);
      registrations.push({ kind: "service", service, impl, options });
      return recorder;
    },
    rpc(method, impl, options) {
      real.rpc(method, impl, options);
      registrations.push({ kind: "rpc", method, impl, options });
      return recorder;
    },
  };
  routes(recorder);

  // As connect's router: the router's options validated, overridden by a
  // service's own options when it has some. A service with options decides
  // `grpc` and `connect` for itself; one without inherits the router's.
  const base = { ...routerOptions, ...validateUniversalHandlerOptions(routerOptions) };
  const methods: RecordedMethod[] = [];
  for (const r of registrations) {
    const options = validateUniversalHandlerOptions(r.options ? { ...base, ...r.options } : base);
    const grpc = r.options
      ? (r.options as ConnectRouterOptions).grpc !== false
      : routerOptions.grpc !== false;
    const connect = r.options
      ? (r.options as ConnectRouterOptions).connect !== false
      : routerOptions.connect !== false;
    if (r.kind === "service") {
      const spec = createServiceImplSpec(r.service, r.impl);
      for (const m of Object.values(spec.methods)) methods.push({ spec: m, options, grpc, connect });
    } else {
      methods.push({ spec: createMethodImplSpec(r.method, r.impl as never), options, grpc, connect });
    }
  }
  return {
    methods,
    replay(router) {
      for (const r of registrations) {
        if (r.kind === "service") router.service(r.service, r.impl, r.options);
        else router.rpc(r.method, r.impl as never, r.options);
      }
    },
  };
}
