import type * as http2 from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  type ContextValues,
  createContextValues,
  createHandlerContext,
  type HandlerContext,
} from "@connectrpc/connect";
import { type Compression, invokeUnaryImplementation } from "@connectrpc/connect/protocol";
import { contentTypeProto, grpcStatusOk } from "@connectrpc/connect/protocol-grpc";
import { CallSignal } from "./call-signal.js";
import type { CallTransport } from "./call-transport.js";
import type { FastMethod } from "./fast-method.js";
import { webHeadersFromNode } from "./headers.js";

/** What a {@link LazyHandlerContext} asks its call for, each only when a handler reads it. */
export interface LazyContextSource {
  readonly method: DescMethod;
  readonly service: DescService;
  /** "grpc" or "connect": the protocol of the call. */
  readonly protocolName: string;
  /** The HTTP method: "POST", or "GET" for a Connect GET. */
  readonly requestMethod: string;
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
  readonly requestMethod: string;
  readonly protocolName: string;
  readonly #source: LazyContextSource;
  #timeoutMs: (() => number | undefined) | undefined;

  constructor(source: LazyContextSource) {
    this.method = source.method;
    this.service = source.service;
    this.requestMethod = source.requestMethod;
    this.protocolName = source.protocolName;
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

/**
 * What a call's handler context reads, each part made only when read: the
 * signal (a {@link CallSignal}), the request headers as fetch `Headers`, the
 * response headers and trailers a handler may set, the context values and
 * the URL. A {@link LazyHandlerContext} reads it; with interceptors,
 * {@link CallContext.createFullContext} builds connect's own context from it.
 */
export class CallContext implements LazyContextSource {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly protocolName: string;
  readonly requestMethod: string;
  private readonly callSignal: CallSignal;
  private reqHeader: Headers | undefined;
  private resHeader: Headers | undefined;
  private resTrailer: Headers | undefined;
  private contextValues: ContextValues | undefined;
  /** The context connect would build, only when interceptors need one. */
  private fullContext: ReturnType<typeof createHandlerContext> | undefined;

  /**
   * @param m - the method called.
   * @param transport - what carries the call: its close aborts the signal; it gives the URL's scheme and path, and `contextValues`' request.
   * @param headers - the request headers, as Node gives them.
   * @param authority - the request's authority, for the URL.
   * @param timeoutMs - the request's grpc-timeout in ms, if any.
   * @param compression - the response's compression, or null (gRPC: named in `grpc-encoding` from the start).
   * @param connect - for a Connect call: its HTTP method and response content type (default: a gRPC call).
   */
  constructor(
    private readonly m: FastMethod,
    private readonly transport: CallTransport,
    private readonly headers: http2.IncomingHttpHeaders,
    private readonly authority: string,
    timeoutMs: number | undefined,
    private readonly compression: Compression | null,
    private readonly connect?: { readonly requestMethod: string; readonly contentType: string },
  ) {
    this.method = m.method;
    this.service = m.service;
    this.protocolName = connect === undefined ? "grpc" : "connect";
    this.requestMethod = connect === undefined ? "POST" : connect.requestMethod;
    this.callSignal = new CallSignal(transport, m.shutdownSignal, timeoutMs);
    if (m.contextValues) {
      // connect-node calls contextValues with the request before anything else.
      this.contextValues = m.contextValues(transport.nodeRequest());
    }
  }

  /** The response headers, if a handler or interceptor made them; undefined while untouched. */
  get touchedResponseHeader(): Headers | undefined {
    return this.resHeader;
  }

  /** The response trailers, if anything made them; undefined while untouched. */
  get touchedResponseTrailer(): Headers | undefined {
    return this.resTrailer;
  }

  /**
   * With interceptors: the context connect builds, linked to this call's
   * signal (stream close, shutdown), so interceptors see what they would
   * see under connect-node.
   */
  createFullContext(): HandlerContext {
    const m = this.m;
    const ctx = createHandlerContext({
      ...m.spec,
      service: m.service,
      requestMethod: this.requestMethod,
      protocolName: this.protocolName,
      timeoutMs: this.callSignal.remainingMs(),
      requestSignal: this.signal(),
      requestHeader: this.requestHeader(),
      url: this.url(),
      responseHeader: this.responseHeader(),
      responseTrailer: this.responseTrailer(),
      contextValues: this.values(),
    });
    // The context copies the Headers given; write the response from its own.
    this.resHeader = ctx.responseHeader;
    this.resTrailer = ctx.responseTrailer;
    this.fullContext = ctx;
    return ctx;
  }

  /** connect's `context.abort(reason)` once the call has its outcome (reason undefined for a success). */
  settle(reason: unknown): void {
    if (this.fullContext !== undefined) this.fullContext.abort(reason);
    this.callSignal.settle(reason);
  }

  signal(): AbortSignal {
    return this.callSignal.signal();
  }

  timeoutMs(): number | undefined {
    return this.callSignal.timeoutMs();
  }

  requestHeader(): Headers {
    this.reqHeader ??= webHeadersFromNode(this.headers);
    return this.reqHeader;
  }

  responseHeader(): Headers {
    if (this.resHeader === undefined && this.connect !== undefined) {
      // As connect's Connect unary handler: the content type only; content-encoding comes with the body.
      this.resHeader = new Headers({ "content-type": this.connect.contentType });
    } else if (this.resHeader === undefined) {
      this.resHeader = new Headers({ "content-type": contentTypeProto });
      if (this.compression !== null) this.resHeader.set("grpc-encoding", this.compression.name);
    }
    return this.resHeader;
  }

  responseTrailer(): Headers {
    this.resTrailer ??=
      this.connect === undefined ? new Headers({ "grpc-status": grpcStatusOk }) : new Headers();
    return this.resTrailer;
  }

  values(): ContextValues {
    this.contextValues ??= createContextValues();
    return this.contextValues;
  }

  url(): string {
    const scheme = this.transport.encrypted() ? "https" : "http";
    return new URL(this.transport.path(), `${scheme}://${this.authority}`).toString();
  }
}

/** Where {@link runUnaryImplementation} reports: the call that ran the implementation. */
export interface ImplementationOutcome {
  /** The implementation returned (or resolved to) `value`. */
  succeed(value: unknown): void;
  /** The implementation threw (or rejected with) `reason`. */
  fail(reason: unknown): void;
}

/**
 * Runs a unary implementation for a fast-path call (gRPC or Connect):
 * through the method's interceptors with a full handler context when it has
 * any (connect's own `invokeUnaryImplementation`), else directly with a lazy
 * one, and reports its value or error, thrown or rejected, to `outcome`.
 * A result that is not a promise is reported at once, without a turn.
 */
export function runUnaryImplementation(
  m: FastMethod,
  callContext: CallContext,
  input: unknown,
  outcome: ImplementationOutcome,
): void {
  let result: unknown;
  try {
    if (m.interceptors.length > 0) {
      result = invokeUnaryImplementation(
        m.spec as never,
        callContext.createFullContext(),
        input as never,
        m.interceptors,
      );
    } else {
      result = m.impl(input, new LazyHandlerContext(callContext));
    }
  } catch (err) {
    outcome.fail(err);
    return;
  }
  // What `await` treats as a promise: anything with a callable `then`.
  if (typeof (result as { then?: unknown } | null | undefined)?.then === "function") {
    (result as PromiseLike<unknown>).then(
      (value) => outcome.succeed(value),
      (err: unknown) => outcome.fail(err),
    );
  } else {
    outcome.succeed(result);
  }
}
