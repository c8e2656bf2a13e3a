import type * as http from "node:http";
import type * as http2 from "node:http2";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  type ContextValues,
  createConnectRouter,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  type ConnectNodeAdapterOptions,
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { createGrpcUnaryFastPath, type GrpcUnaryFastPath } from "./fast/grpc-unary.js";
import { type UnaryTrailerHook, withTrailerHook } from "./fast/trailer-hook.js";
import { type JsonLimits, jsonCompression, jsonFraming, limitJsonBody } from "./json-limits.js";
import { HeldRequestBytes, heldBytesRefused } from "./request-bytes.js";
import { serveObserved } from "./telemetry/observe.js";
import { ServerTelemetry } from "./telemetry/server-telemetry.js";
import { clampTimeouts } from "./timeouts.js";

/** A Node request handler for HTTP/1.1 and HTTP/2 (compatibility API), as connect-node's. */
export type NodeHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/** Options of {@link createConnectHandler}: connect-node's adapter options, plus JSON limits. */
export interface ConnectHandlerOptions extends ConnectRouterOptions {
  /** Registers the services, as connectNodeAdapter's `routes`. */
  routes(router: ConnectRouter): void;
  /** Answers requests for paths no service serves. Default: 404. */
  fallback?: NodeHandler;
  /** Limits for JSON request bodies. */
  json: JsonLimits;
  /**
   * Attach the unary fast path (see fast/README.md) for `createHttp2Server`
   * to serve unary binary gRPC and Connect (proto, JSON, GET) calls with,
   * and serve HTTP/1.1 Connect unary calls (proto, JSON, GET) on it here;
   * everything else goes through connect-node. Default true.
   */
  fastPath?: boolean;
  /** Context values for each request's handler context, as connectNodeAdapter's option. Default: none. */
  contextValues?: (req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues;
  /**
   * Metrics and spans of every call (gRFC A66 server instruments, a SERVER
   * span continuing the client's trace). `false` turns them off. Default: a
   * {@link ServerTelemetry} on the global providers (a no-op without an SDK).
   */
  telemetry?: ServerTelemetry | false;
  /** Called when writing a response fails for a reason other than the client going away. */
  onHandlerError?: (err: unknown, handler: UniversalHandler) => void;
  /**
   * Sees every call and adds a trailer to unary responses (e.g. an ORCA
   * load report), outside any `interceptors`: on connect-node's path as an
   * interceptor, natively on the fast path. Default: none.
   */
  trailerHook?: UnaryTrailerHook;
  /**
   * Told when an exception escapes a fast-path call's own handling (a bug
   * that one request triggered); the call's stream is reset. Default: stderr.
   */
  onEscapedError?: (
    err: unknown,
    stream: http2.ServerHttp2Stream | http.ServerResponse,
    method: string,
  ) => void;
  /**
   * For a request whose body this handler should count (HTTP/1.1: HTTP/2
   * bodies are counted per connection by the server), a function that
   * takes each change of the bytes held for it and returns false once the
   * server will hold no more (the call then fails with RESOURCE_EXHAUSTED).
   * Default: bodies are not counted.
   */
  chargeRequestBytes?: (
    req: http.IncomingMessage | http2.Http2ServerRequest,
  ) => ((delta: number) => boolean) | undefined;
}

/** A handler from {@link createConnectHandler}, carrying its fast path for `createHttp2Server`. */
export type ConnectHandler = NodeHandler & {
  readonly grpcUnaryFastPath?: GrpcUnaryFastPath;
  /** Whether the method at `path` streams requests (client or bidi streaming): its messages are handed on one by one. */
  readonly streamsRequests: (path: string) => boolean;
};

/**
 * connect-node's `connectNodeAdapter`, plus two things it cannot do: check
 * JSON request bodies against {@link JsonLimits} while they stream in,
 * before connect parses them, and carry a unary gRPC fast path that serves
 * the same implementations (routes run once; both paths get the same
 * objects). Everything else (routing, protocols, compression, the
 * shutdown signal) is connect's own code.
 */
export function createConnectHandler(options: ConnectHandlerOptions): ConnectHandler {
  const acceptCompression = options.acceptCompression ?? [compressionGzip, compressionBrotli];
  // Every call served here, on either path, passes this one telemetry hook.
  const telemetry = options.telemetry === false ? undefined : (options.telemetry ?? new ServerTelemetry());
  const hook = options.trailerHook;
  const fast =
    options.fastPath === false
      ? undefined
      : createGrpcUnaryFastPath({
          ...options,
          acceptCompression,
          telemetry: telemetry || undefined,
          ...(options.chargeRequestBytes
            ? {
                chargeRequestBytes: options.chargeRequestBytes as (
                  req: http.IncomingMessage,
                ) => ((delta: number) => boolean) | undefined,
              }
            : {}),
        });
  const interceptors = withTrailerHook(options.interceptors, hook);
  const router = createConnectRouter({
    ...options,
    acceptCompression,
    ...(interceptors ? { interceptors } : {}),
  });
  (fast?.routes ?? options.routes)(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, handler);
  const methodNames = new Map<UniversalHandler, string>();
  for (const h of router.handlers) methodNames.set(h, `${h.service.typeName}/${h.method.name}`);
  const streamsRequests = (path: string) => {
    const q = path.indexOf("?");
    const kind = paths.get(q < 0 ? path : path.slice(0, q))?.method.methodKind;
    return kind === "client_streaming" || kind === "bidi_streaming";
  };
  const fallback: NodeHandler =
    options.fallback ??
    ((_req, res) => {
      res.writeHead(404);
      res.end();
    });
  const handle: NodeHandler = (req, res) => {
    // HTTP/2 calls reach the fast path through createHttp2Server; HTTP/1.1 Connect unary calls here.
    if (fast !== undefined && req.httpVersionMajor === 1) {
      if (fast.handleHttp1(req as http.IncomingMessage, res as http.ServerResponse)) return;
    }
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      fallback(req, res);
      return;
    }
    clampTimeouts(req.headers);
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    if (uReq.body && Symbol.asyncIterator in Object(uReq.body)) {
      const contentType = req.headers["content-type"];
      let body = uReq.body as AsyncIterable<Uint8Array>;
      const framing = jsonFraming(contentType);
      if (framing) {
        const compression = jsonCompression(
          framing === "body"
            ? req.headers["content-encoding"]
            : (req.headers["connect-content-encoding"] ?? req.headers["grpc-encoding"]),
        );
        body = limitJsonBody(body, framing, options.json, req.headers["content-length"], compression);
      }
      const charge = options.chargeRequestBytes?.(req);
      if (charge) {
        const enveloped = contentType !== undefined && /^application\/(grpc|connect\+)/.test(contentType);
        body = heldBody(body, new HeldRequestBytes(!enveloped || !streamsRequests(req.url ?? "")), charge);
      }
      if (body !== uReq.body) Object.assign(uReq, { body });
    }
    const call = telemetry?.startCall(methodNames.get(handler) ?? "other", req.headers);
    if (call) {
      serveObserved(handler, uReq, res, call, req.headers["content-type"], options.onHandlerError);
      return;
    }
    handler(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        // The client went away: nothing to answer, nothing to report.
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.onHandlerError?.(reason, handler);
      });
  };
  return Object.assign(handle, fast ? { grpcUnaryFastPath: fast, streamsRequests } : { streamsRequests });
}

/** Passes `body` through, charging the bytes held for it (see {@link HeldRequestBytes}) and releasing them at the end. */
async function* heldBody(
  body: AsyncIterable<Uint8Array>,
  held: HeldRequestBytes,
  charge: (delta: number) => boolean,
): AsyncIterable<Uint8Array> {
  try {
    for await (const chunk of body) {
      if (!charge(held.push(chunk))) throw heldBytesRefused();
      yield chunk;
    }
  } finally {
    charge(held.release());
  }
}
