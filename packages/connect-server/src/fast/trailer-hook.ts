import type * as http2 from "node:http2";
import type { Interceptor } from "@connectrpc/connect";
import { errorFromThrown } from "./errors.js";
import { nodeHeaderValue } from "./headers.js";

/**
 * Something that sees every call's outcome and may add one trailer to
 * unary responses (success or error), e.g. a per-call ORCA load report
 * (gRFC A51). It is served natively on both paths: as an interceptor on
 * connect-node's ({@link trailerHookInterceptor}), and by the unary gRPC
 * fast path without running any interceptor, which would cost each call
 * the full handler context (an AbortController, three `Headers`, a URL).
 */
export interface UnaryTrailerHook {
  /** The trailer's name, e.g. "endpoint-load-metrics-bin". */
  readonly trailerName: string;
  /** A call's implementation finished; `failed` when it threw. Streams count too. */
  recordCall(failed: boolean): void;
  /**
   * The trailer's value for a unary call with these request headers, or
   * undefined for none. Called once per unary call, after its implementation.
   */
  trailerValue(requestHeader: (name: string) => string | undefined): string | undefined;
}

/**
 * The hook as a Connect interceptor, for connect-node's serving path: it
 * counts every call and sets the trailer on unary responses, and on the
 * error's metadata (which connect sends as trailers) when a unary call fails.
 */
export function trailerHookInterceptor(hook: UnaryTrailerHook): Interceptor {
  return (next) => async (req) => {
    const get = (name: string) => req.header.get(name) ?? undefined;
    try {
      const res = await next(req);
      hook.recordCall(false);
      if (!req.stream && !res.stream) {
        const value = hook.trailerValue(get);
        if (value !== undefined) res.trailer.set(hook.trailerName, value);
      }
      return res;
    } catch (err) {
      hook.recordCall(true);
      const value = req.stream ? undefined : hook.trailerValue(get);
      if (value === undefined) throw err;
      const error = errorFromThrown(err);
      error.metadata.set(hook.trailerName, value);
      throw error;
    }
  };
}

/**
 * The hook's report of a unary call served on the fast path, made as the
 * outermost interceptor would make it ({@link trailerHookInterceptor}): the
 * implementation's outcome, then the trailer to add, if any.
 */
export function reportUnaryCall(
  hook: UnaryTrailerHook,
  failed: boolean,
  requestHeaders: http2.IncomingHttpHeaders,
): [name: string, value: string] | undefined {
  hook.recordCall(failed);
  const value = hook.trailerValue((name) => nodeHeaderValue(requestHeaders, name));
  return value === undefined ? undefined : [hook.trailerName, value];
}

/** `interceptors` with the hook's interceptor first (outermost), or as they are without a hook. */
export function withTrailerHook(
  interceptors: Interceptor[] | undefined,
  hook: UnaryTrailerHook | undefined,
): Interceptor[] | undefined {
  return hook ? [trailerHookInterceptor(hook), ...(interceptors ?? [])] : interceptors;
}
