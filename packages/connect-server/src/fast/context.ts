import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext } from "@connectrpc/connect";

/** What a {@link LazyHandlerContext} asks its call for, each only when a handler reads it. */
export interface LazyContextSource {
  readonly method: DescMethod;
  readonly service: DescService;
  signal(): AbortSignal;
  timeoutMs(): number | undefined;
  requestHeader(): Headers;
  responseHeader(): Headers;
  responseTrailer(): Headers;
  values(): ContextValues;
  url(): string;
}

/**
 * A `HandlerContext` whose costly parts are made on first access: the
 * signal (an AbortController linked to the deadline, the stream and the
 * shutdown signal), the three `Headers` objects, the context values and the
 * URL. A handler that reads none of them (most unary handlers) costs one
 * small object; one that reads them gets what connect's
 * `createHandlerContext` would have given it, in the state it would be in
 * now (e.g. a signal created after the deadline is already aborted).
 *
 * The lazy members are getters on the prototype, so unlike connect's plain
 * object, spreading the context (`{ ...context }`) does not copy them; no
 * connect API does that with a handler's context.
 */
export class LazyHandlerContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod = "POST";
  readonly protocolName = "grpc";
  readonly #source: LazyContextSource;
  #timeoutMs: (() => number | undefined) | undefined;

  constructor(source: LazyContextSource) {
    this.method = source.method;
    this.service = source.service;
    this.#source = source;
  }

  get signal(): AbortSignal {
    return this.#source.signal();
  }

  get timeoutMs(): () => number | undefined {
    if (this.#timeoutMs === undefined) {
      // A closure, as connect's, so that `const { timeoutMs } = ctx` works.
      const source = this.#source;
      this.#timeoutMs = () => source.timeoutMs();
    }
    return this.#timeoutMs;
  }

  get requestHeader(): Headers {
    return this.#source.requestHeader();
  }

  get responseHeader(): Headers {
    return this.#source.responseHeader();
  }

  get responseTrailer(): Headers {
    return this.#source.responseTrailer();
  }

  get values(): ContextValues {
    return this.#source.values();
  }

  get url(): string {
    return this.#source.url();
  }
}
