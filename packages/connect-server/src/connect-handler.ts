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
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { type JsonLimits, jsonFraming, limitJsonBody } from "./json-limits.js";
import { serveObserved } from "./telemetry/observe.js";
import { ServerTelemetry } from "./telemetry/server-telemetry.js";

/** A Node request handler for HTTP/1.1 and HTTP/2 (compatibility API). */
export type NodeHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Options of {@link createConnectHandler}: connect-node's adapter options, plus JSON limits. */
export interface ConnectHandlerOptions extends ConnectRouterOptions {
  /** Registers the services, as connectNodeAdapter's `routes`. */
  routes(router: ConnectRouter): void;
  /** Answers requests for paths no service serves. Default: 404. */
  fallback?: NodeHandler;
  /** Limits for JSON request bodies. */
  json: JsonLimits;
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
}

/**
 * connect-node's `connectNodeAdapter`, plus one thing it cannot do: check
 * JSON request bodies against {@link JsonLimits} while they stream in,
 * before connect parses them. Everything else (routing, protocols,
 * compression, the shutdown signal) is connect's own code.
 */
export function createConnectHandler(options: ConnectHandlerOptions): NodeHandler {
  const router = createConnectRouter({
    ...options,
    acceptCompression: options.acceptCompression ?? [compressionGzip, compressionBrotli],
  });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, handler);
  // Every call served here passes the one telemetry hook below.
  const telemetry = options.telemetry === false ? undefined : (options.telemetry ?? new ServerTelemetry());
  const methodNames = new Map<UniversalHandler, string>();
  for (const h of router.handlers) methodNames.set(h, `${h.service.typeName}/${h.method.name}`);
  const fallback: NodeHandler =
    options.fallback ??
    ((_req, res) => {
      res.writeHead(404);
      res.end();
    });
  return (req, res) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      fallback(req, res);
      return;
    }
    const uReq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    const framing = jsonFraming(req.headers["content-type"]);
    if (framing && uReq.body && Symbol.asyncIterator in Object(uReq.body)) {
      const body = uReq.body as AsyncIterable<Uint8Array>;
      const length = req.headers["content-length"];
      Object.assign(uReq, { body: limitJsonBody(body, framing, options.json, length) });
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
}
