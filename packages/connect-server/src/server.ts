import { setMaxListeners } from "node:events";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import type * as tls from "node:tls";
import { createContextValues } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@rngbalance/grpc-protos";
import { systemClock } from "./clock.js";
import { type ConnectHandler, createConnectHandler, type NodeHandler } from "./connect-handler.js";
import { ConnectionTable } from "./connection-table.js";
import { type DrainParts, drainServer } from "./drain.js";
import { abandon, escaped, remoteOfStream } from "./escaped.js";
import { createHttp2Server } from "./fast/http2-server.js";
import { createHealthService, HealthRegistry } from "./health.js";
import { Http1Connections } from "./http1-connections.js";
import { BoundedHttp2ServerResponse } from "./http2-response.js";
import { Http2Sessions } from "./http2-sessions.js";
import { DualProtocolListener } from "./listener.js";
import { createJsonLogger, type Logger, remoteOf } from "./log.js";
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

/**
 * Starts a Connect server: gRPC, gRPC-Web and Connect over h2c and HTTP/1.1
 * on one port (or over TLS with ALPN, given `tls`), with grpc.health.v1 and
 * server reflection for `services`, graceful drain, and the connection
 * policy of {@link ConnectServerSettings}.
 */
export async function startConnectServer(options: ConnectServerOptions): Promise<ConnectServer> {
  const o = resolveOptions(options);
  // Bad TLS options throw here, before anything has started.
  const tlsOptions = options.tls && tlsServerOptions(options.tls, o.detectTimeoutMs);
  const logger = options.logger ?? createJsonLogger();
  const clock = options.clock ?? systemClock;
  const health = new HealthRegistry();
  // Aborted at the drain deadline: every handler's signal then fires with
  // UNAVAILABLE, and handlers that honour it end their calls properly.
  const shutdown = new AbortController();
  // Each call in flight listens to it (connect links every call's signal to
  // it): thousands at once are normal, not a leak.
  setMaxListeners(0, shutdown.signal);
  const orca = o.orca === "off" ? undefined : new OrcaReporter({ intervalMs: o.orcaIntervalMs }).start();
  const table = new ConnectionTable(o, logger, clock);
  const h1Connections = new Http1Connections(table, logger);
  const handler = createServerHandler(options, o, { health, shutdown, orca, logger, h1Connections });
  const guarded = guard(handler, logger);

  const h1 = h1Connections.createServer(o, guarded);
  const sessions = new Http2Sessions(o, logger, { table, streamsRequests: handler.streamsRequests, clock });
  // Unary gRPC calls are served on the fast path, the rest by connect-node.
  const h2: http2.Http2Server = createHttp2Server(
    {
      settings: { maxConcurrentStreams: o.maxConcurrentStreams },
      Http2ServerResponse: BoundedHttp2ServerResponse as typeof http2.Http2ServerResponse,
    },
    Object.assign(guarded, { grpcUnaryFastPath: handler.grpcUnaryFastPath }),
    (err, stream, headers) => escaped(logger, err, remoteOfStream(stream), headers[":path"]),
  );
  sessions.attach(h2);

  const listener = new DualProtocolListener(h1, h2, {
    detectTimeoutMs: o.detectTimeoutMs,
    table,
    logger,
    clock,
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
    ...(options.tls ? { tls: true, clientAuth: options.tls.clientAuth ?? "none" } : {}),
  });

  const parts: DrainParts = {
    logger,
    health,
    listener,
    http1: h1Connections,
    http2: sessions,
    shutdown,
    stop() {
      table.stop();
      h1.close();
      orca?.stop();
    },
  };
  let drained: Promise<void> | undefined;
  return {
    address,
    health,
    orca,
    drain() {
      drained ??= drainServer(parts, o, clock);
      return drained;
    },
    setSecureContext(context) {
      if (listener.tls === undefined) throw new Error("setSecureContext: the server was started without tls");
      listener.tls.setSecureContext(context);
    },
  };
}

/** What the server's handler is wired to, beside the options. */
interface HandlerParts {
  readonly health: HealthRegistry;
  readonly shutdown: AbortController;
  readonly orca: OrcaReporter | undefined;
  readonly logger: Logger;
  readonly h1Connections: Http1Connections;
}

/**
 * The handler of every call: the application's routes plus health and
 * reflection, unknown paths answered by the fallback, HTTP/1.1 bodies
 * charged to their connection, ORCA trailers when on.
 */
function createServerHandler(
  options: ConnectServerOptions,
  o: ResolvedOptions,
  parts: HandlerParts,
): ConnectHandler {
  const { health, orca, logger, h1Connections } = parts;
  const reflection = new ReflectionIndex([...options.services, Health, ...reflectionServices]);
  const clientAuth = options.tls?.clientAuth ?? "none";
  // Only servers that ask for client certificates pay for looking them up on every call.
  const contextValues: ConnectServerOptions["contextValues"] =
    clientAuth === "none"
      ? options.contextValues
      : (req) => {
          const values = options.contextValues?.(req) ?? createContextValues();
          return values.set(peerCertificateKey, peerCertificateOf(req));
        };
  return createConnectHandler({
    // The reporter counts calls and adds the trailer around the handlers: the services know nothing of it.
    ...(orca && o.orca !== "off" ? { trailerHook: orca.trailerHook(o.orca) } : {}),
    readMaxBytes: o.readMaxBytes,
    json: { readMaxBytes: o.jsonReadMaxBytes, maxDepth: o.jsonMaxDepth },
    shutdownSignal: parts.shutdown.signal,
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
    chargeRequestBytes: (req) => h1Connections.requestCharger(req),
    onHandlerError(err, h) {
      logger.log("warn", "writing a response failed", {
        method: `${h.service.typeName}/${h.method.name}`,
        err,
      });
    },
  });
}

/** `handler`, with whatever a request makes it throw kept to that request. */
function guard(handler: NodeHandler, logger: Logger): NodeHandler {
  return (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      escaped(logger, err, remoteOf(req.socket), req.url);
      abandon(res as Parameters<typeof abandon>[0]);
    }
  };
}

/** The options over the defaults. */
function resolveOptions(options: ConnectServerOptions) {
  return { ...CONNECT_SERVER_DEFAULTS, ...withoutUndefined(options) };
}

type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** `options` without the keys set to undefined, so spreading it over defaults keeps them. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
