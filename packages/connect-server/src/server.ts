import { setMaxListeners } from "node:events";
import * as http from "node:http";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import type * as tls from "node:tls";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@rngbalance/grpc-protos";
import { createConnectHandler, type NodeHandler } from "./connect-handler.js";
import { type Connection, ConnectionTable } from "./connection-table.js";
import { abandon, escaped, remoteOfStream } from "./escaped.js";
import { createHttp2Server } from "./fast/http2-server.js";
import { createHealthService, HealthRegistry } from "./health.js";
import { Http1Connections } from "./http1-connections.js";
import { BoundedHttp2ServerResponse } from "./http2-response.js";
import { Http2Sessions } from "./http2-sessions.js";
import { DualProtocolListener } from "./listener.js";
import { createJsonLogger, remoteOf } from "./log.js";
import { CONNECT_SERVER_DEFAULTS, type ConnectServerOptions } from "./options.js";
import { OrcaReporter } from "./orca.js";
import { createReflectionService, ReflectionIndex, reflectionServices } from "./reflection.js";
import { peerCertificateKey, peerCertificateOf, tlsServerOptions } from "./tls.js";
import { createUnknownMethodFallback } from "./unknown-method.js";

/** A running server. */
export interface ConnectServer {
  /** The bound address; the port is the real one when 0 was asked. */
  readonly address: net.AddressInfo;
  /** The health registry, to flip statuses (e.g. on dependency loss, or in tests). */
  readonly health: HealthRegistry;
  /** The ORCA load reporter when the `orca` setting is not "off" (its latest report, for logs and tests). */
  readonly orca: OrcaReporter | undefined;
  /**
   * Drains gracefully: health NOT_SERVING, wait `shutdownDelayMs`, stop
   * accepting (closing connections that never sent a request), GOAWAY every
   * HTTP/2 connection, let in-flight calls finish (at most
   * `drainTimeoutMs`), then end what is left with UNAVAILABLE and close
   * every connection, however idle or stalled. Idempotent.
   */
  drain(): Promise<void>;
  /**
   * Replaces the TLS credentials (e.g. a renewed certificate) without a
   * restart: new handshakes use them, open connections keep theirs. Fields
   * left out keep their value (e.g. `{ key, cert }` keeps `ca`); the
   * client-auth setting cannot change. Throws when the server was not
   * started with `tls`, or the options do not make a valid context.
   */
  setSecureContext(options: tls.SecureContextOptions): void;
}

/** After the drain deadline, how long handlers get to answer UNAVAILABLE before their calls are refused. */
const CUT_GRACE_MS = 250;
/** Why calls cut by a drain end, as the client sees it. */
const SHUTTING_DOWN = "the server is shutting down: retry on another instance";

/**
 * Starts a Connect server: gRPC, gRPC-Web and Connect over h2c and HTTP/1.1
 * on one port (or over TLS with ALPN, given `tls`), with grpc.health.v1 and
 * server reflection for `services`, graceful drain, and the connection
 * policy of {@link ConnectServerSettings}.
 */
export async function startConnectServer(options: ConnectServerOptions): Promise<ConnectServer> {
  const o = { ...CONNECT_SERVER_DEFAULTS, ...withoutUndefined(options) };
  // Bad TLS options throw here, before anything has started.
  const tlsOptions = options.tls && tlsServerOptions(options.tls, o.detectTimeoutMs);
  const logger = options.logger ?? createJsonLogger();
  const health = new HealthRegistry();
  const reflection = new ReflectionIndex([...options.services, Health, ...reflectionServices]);
  // Aborted at the drain deadline: every handler's signal then fires with
  // UNAVAILABLE, and handlers that honour it end their calls properly.
  const shutdown = new AbortController();
  // Each call in flight listens to it (connect links every call's signal to
  // it): thousands at once are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const clientAuth = options.tls?.clientAuth ?? "none";
  // Only servers that ask for client certificates pay for looking them up on every call.
  const contextValues: ConnectServerOptions["contextValues"] =
    clientAuth === "none"
      ? options.contextValues
      : (req) => {
          const values = options.contextValues?.(req) ?? createContextValues();
          return values.set(peerCertificateKey, peerCertificateOf(req));
        };
  const orca = o.orca === "off" ? undefined : new OrcaReporter({ intervalMs: o.orcaIntervalMs }).start();

  const handler = createConnectHandler({
    // The reporter counts calls and adds the trailer around the handlers: the services know nothing of it.
    ...(orca && o.orca !== "off" ? { trailerHook: orca.trailerHook(o.orca) } : {}),
    readMaxBytes: o.readMaxBytes,
    json: { readMaxBytes: o.jsonReadMaxBytes, maxDepth: o.jsonMaxDepth },
    shutdownSignal: shutdown.signal,
    fastPath: o.fastPath,
    ...(contextValues ? { contextValues } : {}),
    ...(options.telemetry === undefined ? {} : { telemetry: options.telemetry }),
    routes(router) {
      options.routes(router);
      router.service(Health, createHealthService(health));
      for (const service of reflectionServices) router.service(service, createReflectionService(reflection));
    },
    fallback: options.fallback ?? createUnknownMethodFallback(reflection.services),
    onEscapedError: (err, stream, method) => escaped(logger, err, remoteOfStream(stream), `/${method}`),
    chargeRequestBytes(req) {
      if (req.httpVersionMajor !== 1) return undefined;
      const connection = h1Connections.connectionOf(req as http.IncomingMessage);
      return connection && ((delta) => table.chargeRequest(connection, delta));
    },
    onHandlerError(err, h) {
      logger.log("warn", "writing a response failed", {
        method: `${h.service.typeName}/${h.method.name}`,
        err,
      });
    },
  });
  // Whatever a request makes a handler throw stays with that request.
  const guarded: NodeHandler = (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      escaped(logger, err, remoteOf(req.socket), req.url);
      abandon(res as Parameters<typeof abandon>[0]);
    }
  };

  const table = new ConnectionTable(o, logger);
  const h1Connections = new Http1Connections(table, logger);
  const h1 = http.createServer(
    {
      headersTimeout: o.http1HeadersTimeoutMs,
      requestTimeout: o.http1RequestTimeoutMs,
      keepAliveTimeout: o.http1KeepaliveTimeoutMs,
      // Node checks the two timeouts above on this period (default 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, o.http1HeadersTimeoutMs / 4)),
    },
    (req, res) => {
      h1Connections.requestStarted(req, res);
      guarded(req, res);
    },
  );
  h1.on("connection", (socket: net.Socket) => h1Connections.add(socket));

  const sessions = new Http2Sessions(o, logger, { table, streamsRequests: handler.streamsRequests });
  // Unary gRPC calls are served on the fast path, the rest by connect-node.
  const h2: http2.Http2Server = createHttp2Server(
    {
      settings: { maxConcurrentStreams: o.maxConcurrentStreams },
      Http2ServerResponse: BoundedHttp2ServerResponse as typeof http2.Http2ServerResponse,
    },
    Object.assign(guarded, { grpcUnaryFastPath: handler.grpcUnaryFastPath }),
    (err, stream, headers) => escaped(logger, err, remoteOfStream(stream), headers[":path"]),
  );
  // `session.socket` is a proxy: the table's record is found by the real
  // socket, which Node turns into a session within this same "connection" event.
  let handedOver: Connection | undefined;
  h2.prependListener("connection", (socket: net.Socket) => {
    handedOver = table.connectionOf(socket);
  });
  h2.on("session", (session) => {
    sessions.add(session, handedOver);
    handedOver = undefined;
  });

  const listener = new DualProtocolListener(h1, h2, {
    detectTimeoutMs: o.detectTimeoutMs,
    table,
    logger,
    ...(tlsOptions ? { tls: tlsOptions } : {}),
  });
  const address = await listener.listen(o.host, o.port);
  // The HTTP/1.1 server is fed sockets by the listener and never listens
  // itself, but Node starts its header/request timeout checks (and the
  // connection list closeIdleConnections() needs) on "listening".
  h1.emit("listening");
  const notServing = new Set(options.notServing ?? []);
  for (const service of ["", ...options.services.map((s) => s.typeName)]) {
    health.setStatus(service, notServing.has(service) ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);
  }
  logger.log("info", "listening", {
    ...options.listeningFields,
    address: `${address.address}:${address.port}`,
    protocols: ["grpc", "grpc-web", "connect"],
    ...(options.tls ? { tls: true, clientAuth } : {}),
  });

  let drained: Promise<void> | undefined;
  return {
    address,
    health,
    orca,
    drain() {
      drained ??= drain();
      return drained;
    },
    setSecureContext(context) {
      if (listener.tls === undefined) throw new Error("setSecureContext: the server was started without tls");
      listener.tls.setSecureContext(context);
    },
  };

  async function drain(): Promise<void> {
    const started = Date.now();
    h1Connections.startDrain();
    health.shutdown();
    logger.log("info", "draining", { shutdownDelayMs: o.shutdownDelayMs, drainTimeoutMs: o.drainTimeoutMs });
    if (o.shutdownDelayMs) await sleep(o.shutdownDelayMs);
    // Stops accepting, and closes connections still being detected: no call is on them.
    const closed = listener.close();
    // GOAWAY: the client may not open new streams here, and each
    // connection closes once its open streams have finished.
    sessions.goawayAll();
    const open = () => sessions.size + h1Connections.size;
    const closeIdleHttp1 = () => h1Connections.closeIdle();
    await waitWhile(() => open() > 0, Date.now() + o.drainTimeoutMs, closeIdleHttp1);
    // Connections the deadline caught with calls still open.
    const cut = open();
    if (cut > 0) {
      // The deadline: handlers see their signal abort with UNAVAILABLE, and
      // get a moment to answer with it; whatever is left is refused.
      shutdown.abort(new ConnectError(SHUTTING_DOWN, Code.Unavailable));
      await waitWhile(() => open() > 0, Date.now() + CUT_GRACE_MS, closeIdleHttp1);
      sessions.cutAll(SHUTTING_DOWN);
      h1Connections.destroyAll();
    }
    await closed;
    sessions.stop();
    table.stop();
    h1.close();
    orca?.stop();
    logger.log("info", "drained", { tookMs: Date.now() - started, connectionsCut: cut });
  }
}

/** Runs `tick` and waits while `condition` holds, until `deadline`. */
async function waitWhile(condition: () => boolean, deadline: number, tick: () => void): Promise<void> {
  while (condition() && Date.now() < deadline) {
    tick();
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `options` without the keys set to undefined, so spreading it over defaults keeps them. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
