/**
 * A test service for the fast-path differential suite: the Rng, RngService
 * and Health descriptors, with implementations that do what the request
 * header `x-test-behaviour` says, and that record per call (header
 * `x-test-id`) what a client cannot see: whether they ran, and when and why
 * their signal aborted.
 *
 * `x-test-behaviour` is a `;`-separated list of:
 * - `status=<Code name>`: throw a ConnectError with that code, a message
 *   needing percent-encoding, metadata and a google.rpc.Status detail
 * - `throw`: throw a plain Error (not a ConnectError)
 * - `async`: answer after a macrotask
 * - `headers`: set response headers (one repeated, set-cookie twice) and trailers
 * - `size=<n>`: answer with an `instance` of n bytes
 * - `wait-signal`: wait for the signal to abort, record the reason, throw it
 * - `late-signal=<ms>`: sleep, then look at the signal for the first time
 *   and answer with what it says
 * - `echo`: answer with the context a handler sees, as JSON in `instance`
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createContextKey,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { Health, HealthCheckRequestSchema, HealthCheckResponse_ServingStatus } from "@rngbalance/grpc-protos";
import { Rng, RngService } from "@rngbalance/proto";

/** What one call did on one server, as its implementation saw it. */
export interface Observation {
  invoked: number;
  /** How the signal aborted, once it did. */
  signal?: { code?: string; name?: string; message: string };
  /** True once the implementation has returned or thrown. */
  done: boolean;
}

/** A context value the differential suite sets through `contextValues`. */
export const kUser = createContextKey("anonymous", { description: "user" });

/** Observations of one server, by `x-test-id`. */
export type ObservationLog = Map<string, Observation>;

/** Registers the test services, recording into `log`. */
export function testRoutes(log: ObservationLog): (router: ConnectRouter) => void {
  return (router) => {
    router.service(RngService, {
      async generate(request, ctx) {
        const instance = await behave(log, ctx, `delay=${request.delayMs}`);
        return { rn: 42n, instance };
      },
      async *generateStream(request) {
        for (let i = 0; i < request.count; i++) yield { rn: 7n, instance: "s", sequence: i };
      },
    });
    router.service(Rng, {
      rng(_request, ctx) {
        // Synchronous, as the real legacy service.
        if (ctx.requestHeader.get("x-test-behaviour")) {
          throw new ConnectError("legacy says no", Code.FailedPrecondition);
        }
        return { RN: -5n };
      },
    });
    router.service(Health, {
      check(request) {
        if (request.service === "") return { status: HealthCheckResponse_ServingStatus.SERVING };
        throw new ConnectError(`unknown service "${request.service.slice(0, 20)}"`, Code.NotFound);
      },
      async *watch() {
        yield { status: HealthCheckResponse_ServingStatus.SERVING };
      },
    });
  };
}

/** Does what the call's `x-test-behaviour` says, recording into `log`; returns the response's `instance`. */
export async function behave(log: ObservationLog, ctx: HandlerContext, echo: string): Promise<string> {
  const id = ctx.requestHeader.get("x-test-id") ?? "";
  const observation: Observation = log.get(id) ?? { invoked: 0, done: false };
  observation.invoked++;
  log.set(id, observation);
  try {
    return await run(ctx, observation, echo);
  } finally {
    observation.done = true;
  }
}

async function run(ctx: HandlerContext, observation: Observation, echo: string): Promise<string> {
  let instance = "x";
  for (const directive of (ctx.requestHeader.get("x-test-behaviour") ?? "").split(";")) {
    const [name, value = ""] = directive.split("=");
    switch (name) {
      case "async":
        await sleep(5);
        break;
      case "headers":
        ctx.responseHeader.set("x-h", "1");
        ctx.responseHeader.append("x-multi", "a");
        ctx.responseHeader.append("x-multi", "b");
        ctx.responseHeader.append("set-cookie", "a=1");
        ctx.responseHeader.append("set-cookie", "b=2");
        ctx.responseTrailer.set("x-t", "2");
        ctx.responseTrailer.set("x-trailer-bin", "AAEC");
        break;
      case "size":
        instance = "y".repeat(Number(value));
        break;
      case "status":
        throw new ConnectError(
          "boom: ü % \n end",
          Code[value as keyof typeof Code],
          { "x-meta": "m", "grpc-status": "spoofed" },
          [{ desc: HealthCheckRequestSchema, value: { service: "detail" } }],
        );
      case "throw":
        throw new Error("not a ConnectError");
      case "wait-signal": {
        const signal = ctx.signal;
        await new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener("abort", () => resolve(), { once: true });
        });
        observation.signal = describeReason(signal.reason);
        throw ConnectError.from(signal.reason);
      }
      case "late-signal": {
        await sleep(Number(value));
        const signal = ctx.signal;
        observation.signal = signal.aborted ? describeReason(signal.reason) : { message: "not aborted" };
        instance = JSON.stringify(observation.signal);
        break;
      }
      case "echo":
        instance = JSON.stringify({
          echo,
          method: ctx.method.name,
          service: ctx.service.typeName,
          requestMethod: ctx.requestMethod,
          protocolName: ctx.protocolName,
          // The two servers under comparison listen on different ports.
          url: ctx.url.replace(/:\d+\//, ":<port>/"),
          hasTimeout: ctx.timeoutMs() !== undefined,
          timeoutPlausible: (ctx.timeoutMs() ?? 1) > 0,
          signalAborted: ctx.signal.aborted,
          user: ctx.values.get(kUser),
          custom: ctx.requestHeader.get("x-custom"),
          intercepted: ctx.requestHeader.get("x-intercepted-request"),
          contentType: ctx.requestHeader.get("content-type"),
          responseHeader: [...ctx.responseHeader],
          responseTrailer: [...ctx.responseTrailer],
        });
        break;
    }
  }
  return instance;
}

function describeReason(reason: unknown): Observation["signal"] {
  if (reason instanceof ConnectError) return { code: Code[reason.code], message: reason.rawMessage };
  if (reason instanceof Error) return { name: reason.name, message: reason.message };
  return { message: String(reason) };
}

/**
 * An interceptor that touches request and response headers and trailers,
 * to check that the fast path runs interceptors as connect does.
 */
export const testInterceptor: Interceptor = (next) => async (req) => {
  req.header.set("x-intercepted-request", "yes");
  const res = await next(req);
  res.header.set("x-intercepted", "yes");
  if (!res.stream) res.trailer.set("x-intercepted-trailer", "yes");
  return res;
};
