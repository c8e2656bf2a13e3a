import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as http2 from "node:http2";
import type * as net from "node:net";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  Health,
  Rng,
  RngService,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@rngbalance/proto";
import { createConnectHandler } from "./connect-handler.js";
import { SERVER_DEFAULTS } from "./defaults.js";
import { createHealthService, HealthRegistry } from "./health.js";
import { Http2Sessions } from "./http2-sessions.js";
import { DualProtocolListener } from "./listener.js";
import { createJsonLogger, type Logger } from "./log.js";
import { createReflectionService, ReflectionIndex, reflectionServices } from "./reflection.js";
import { createLegacyRngService, createRngService, type Fault, type Instance } from "./rng-service.js";
import { unknownMethodFallback } from "./unknown-method.js";

export { SERVER_DEFAULTS };

/** Options of {@link startRngServer}. Every default is in {@link SERVER_DEFAULTS}. */
export interface RngServerOptions {
  /** Address to listen on. Default "0.0.0.0". */
  host?: string;
  /** Port to listen on; 0 picks a free port. Default 8081. */
  port?: number;
  /** Largest request message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 4 MiB. */
  readMaxBytes?: number;
  /**
   * Largest JSON request (Connect JSON, or a +json codec message), in bytes;
   * larger ones fail with RESOURCE_EXHAUSTED before they are parsed. Default 1 MiB.
   */
  jsonReadMaxBytes?: number;
  /** Deepest nesting of a JSON request; deeper ones fail with INVALID_ARGUMENT unparsed. Default 100. */
  jsonMaxDepth?: number;
  /**
   * After a drain starts (and `shutdownDelayMs` has passed), how long
   * in-flight calls may run. At the deadline their handlers' signals abort
   * with UNAVAILABLE, and calls still open end with UNAVAILABLE, so clients
   * retry them elsewhere. Default 10000.
   */
  drainTimeoutMs?: number;
  /**
   * After a drain starts, how long the server keeps serving (with health
   * NOT_SERVING) before it stops accepting and sends GOAWAY, so that load
   * balancers and DNS see the change first. Default 0.
   */
  shutdownDelayMs?: number;
  /**
   * Close each HTTP/2 connection (GOAWAY) after it has lived this long, ±10 %
   * jitter, so that clients reconnect and re-resolve DNS: the fix for
   * grpc-go/grpc-js clients that never re-resolve otherwise (gRFC A9).
   * 0 disables. Default 0.
   */
  maxConnectionAgeMs?: number;
  /** After max connection age, how long calls may finish before the connection is cut. Default 10000. */
  maxConnectionAgeGraceMs?: number;
  /**
   * How long a new connection may take to show whether it speaks HTTP/2 or
   * HTTP/1.1 (its first 24 bytes at most), from accept. Default 10000.
   */
  detectTimeoutMs?: number;
  /** HTTP/1.1: time to receive a request's headers (Node's headersTimeout). Default 10000. */
  http1HeadersTimeoutMs?: number;
  /** HTTP/1.1: time to receive a whole request (Node's requestTimeout). Default 60000. */
  http1RequestTimeoutMs?: number;
  /** HTTP/1.1: how long an idle keep-alive connection stays open. Default 5000. */
  http1KeepaliveTimeoutMs?: number;
  /** HTTP/2: GOAWAY a connection with no call for this long (MaxConnectionIdle). 0 disables. Default 300000. */
  idleTimeoutMs?: number;
  /** HTTP/2: PING each connection this often; 0 disables. Default 60000. */
  keepaliveTimeMs?: number;
  /** HTTP/2: a PING unanswered this long cuts the connection. Default 20000. */
  keepaliveTimeoutMs?: number;
  /**
   * HTTP/2 ping enforcement: a client pinging more often than this (with
   * nothing sent in between) gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings"
   * on its third strike, as from grpc-go. Default 300000 (grpc-go's).
   */
  keepaliveMinTimeMs?: number;
  /** HTTP/2 ping enforcement: allow pings on a connection with no call. Default false. */
  keepalivePermitWithoutCalls?: boolean;
  /** HTTP/2: most calls open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). Default 250. */
  maxConcurrentStreams?: number;
  /** Most open connections; more are closed as they arrive. 0 = no cap. Default 0. */
  maxConnections?: number;
  /** The random number to serve; default a random non-negative int64 (as the original demo). */
  rn?: bigint;
  /**
   * Fault injection, to watch clients cope with a bad pod: "unavailable"
   * fails every Rng call with UNAVAILABLE; "not-serving" reports NOT_SERVING
   * in health checks but still answers. Default "none".
   */
  fault?: Fault;
  /** Logger; default JSON lines on stdout. */
  logger?: Logger;
}

/** A running Rng server. */
export interface RngServer {
  /** The bound address; the port is the real one when 0 was asked. */
  readonly address: net.AddressInfo;
  /** Who this instance is: its number and name. */
  readonly instance: Instance;
  /** The health registry, to flip statuses (e.g. in tests or on dependency loss). */
  readonly health: HealthRegistry;
  /**
   * Drains gracefully: health NOT_SERVING, wait `shutdownDelayMs`, stop
   * accepting, GOAWAY every HTTP/2 connection, let in-flight calls finish
   * (at most `drainTimeoutMs`), then end what is left with UNAVAILABLE and
   * close every connection, however idle or stalled. Idempotent.
   */
  drain(): Promise<void>;
}

/** The services the server answers for in health checks, "" being the whole server. */
const HEALTH_SERVICES = ["", Rng.typeName, RngService.typeName];

/** Starts an Rng server: Connect, gRPC and gRPC-Web over h2c and HTTP/1.1 on one port. */
export async function startRngServer(options: RngServerOptions = {}): Promise<RngServer> {
  const o = { ...SERVER_DEFAULTS, ...withoutUndefined(options) };
  const logger = options.logger ?? createJsonLogger();
  const health = new HealthRegistry();
  const rn = options.rn ?? randomBytes(8).readBigInt64BE() & 0x7fff_ffff_ffff_ffffn;
  const instance: { rn: bigint; name: string } = { rn, name: hostname() };
  const reflection = new ReflectionIndex([Rng, RngService, Health, ...reflectionServices]);
  // Aborted at the drain deadline: every handler's signal then fires with
  // UNAVAILABLE, and handlers that honour it end their calls properly.
  const shutdown = new AbortController();

  let draining = false;
  const handler = createConnectHandler({
    readMaxBytes: o.readMaxBytes,
    json: { readMaxBytes: o.jsonReadMaxBytes, maxDepth: o.jsonMaxDepth },
    shutdownSignal: shutdown.signal,
    routes(router) {
      router.service(Rng, createLegacyRngService(instance, o.fault));
      router.service(RngService, createRngService(instance, o.fault));
      router.service(Health, createHealthService(health));
      for (const service of reflectionServices) router.service(service, createReflectionService(reflection));
    },
    fallback: unknownMethodFallback,
    onHandlerError(err, h) {
      logger.log("warn", "writing a response failed", {
        method: `${h.service.typeName}/${h.method.name}`,
        err,
      });
    },
  });

  const h1Sockets = new Set<net.Socket>();
  // HTTP/1.1 sockets with a request being answered; the others are idle or
  // still sending headers, and a drain closes them at once.
  const h1Busy = new WeakSet<net.Socket>();
  const closeIdleHttp1 = () => {
    for (const socket of h1Sockets) if (!h1Busy.has(socket)) socket.destroy();
  };
  const h1 = http.createServer(
    {
      headersTimeout: o.http1HeadersTimeoutMs,
      requestTimeout: o.http1RequestTimeoutMs,
      keepAliveTimeout: o.http1KeepaliveTimeoutMs,
      // Node checks the two timeouts above on this period (default 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, o.http1HeadersTimeoutMs / 4)),
    },
    (req, res) => {
      // During a drain, HTTP/1.1 connections close after their current response.
      if (draining) res.setHeader("Connection", "close");
      h1Busy.add(req.socket);
      res.once("close", () => h1Busy.delete(req.socket));
      handler(req, res);
    },
  );
  h1.on("connection", (socket: net.Socket) => {
    h1Sockets.add(socket);
    socket.once("close", () => h1Sockets.delete(socket));
  });

  const sessions = new Http2Sessions(
    {
      idleTimeoutMs: o.idleTimeoutMs,
      maxConnectionAgeMs: o.maxConnectionAgeMs,
      maxConnectionAgeGraceMs: o.maxConnectionAgeGraceMs,
      keepaliveTimeMs: o.keepaliveTimeMs,
      keepaliveTimeoutMs: o.keepaliveTimeoutMs,
      keepaliveMinTimeMs: o.keepaliveMinTimeMs,
      keepalivePermitWithoutCalls: o.keepalivePermitWithoutCalls,
    },
    logger,
  );
  const h2 = http2.createServer({ settings: { maxConcurrentStreams: o.maxConcurrentStreams } }, handler);
  h2.on("session", (session) => sessions.add(session));

  const listener = new DualProtocolListener(h1, h2, {
    detectTimeoutMs: o.detectTimeoutMs,
    maxConnections: o.maxConnections,
    logger,
  });
  const address = await listener.listen(o.host, o.port);
  // The HTTP/1.1 server is fed sockets by the listener and never listens
  // itself, but Node starts its header/request timeout checks (and the
  // connection list closeIdleConnections() needs) on "listening".
  h1.emit("listening");
  instance.name = `${hostname()}/${address.address}:${address.port}`;
  const serving = o.fault === "not-serving" ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  for (const service of HEALTH_SERVICES) health.setStatus(service, serving);
  logger.log("info", "listening", {
    ...(o.fault === "none" ? {} : { fault: o.fault }),
    address: `${address.address}:${address.port}`,
    rn: instance.rn,
    protocols: ["grpc", "grpc-web", "connect"],
  });

  let drained: Promise<void> | undefined;
  return {
    address,
    instance,
    health,
    drain() {
      drained ??= drain();
      return drained;
    },
  };

  async function drain(): Promise<void> {
    const started = Date.now();
    draining = true;
    health.shutdown();
    logger.log("info", "draining", { shutdownDelayMs: o.shutdownDelayMs, drainTimeoutMs: o.drainTimeoutMs });
    if (o.shutdownDelayMs) await sleep(o.shutdownDelayMs);
    // Stops accepting, and closes connections still being detected: no call is on them.
    const closed = listener.close();
    // GOAWAY: the client may not open new streams here, and each
    // connection closes once its open streams have finished.
    sessions.goawayAll();
    const deadline = Date.now() + o.drainTimeoutMs;
    const open = () => sessions.size + h1Sockets.size;
    while (open() > 0 && Date.now() < deadline) {
      closeIdleHttp1();
      await sleep(20);
    }
    // Connections the deadline caught with calls still open.
    const cut = open();
    if (cut > 0) {
      // The deadline: handlers see their signal abort with UNAVAILABLE, and
      // get a moment to answer with it; whatever is left is refused.
      shutdown.abort(
        new ConnectError("the server is shutting down: retry on another instance", Code.Unavailable),
      );
      const grace = Date.now() + CUT_GRACE_MS;
      while (open() > 0 && Date.now() < grace) {
        closeIdleHttp1();
        await sleep(10);
      }
      sessions.cutAll("the server is shutting down: retry on another instance");
      for (const socket of h1Sockets) socket.destroy();
    }
    await closed;
    sessions.stop();
    h1.close();
    logger.log("info", "drained", { tookMs: Date.now() - started, connectionsCut: cut });
  }
}

/** After the drain deadline, how long handlers get to answer UNAVAILABLE before their calls are refused. */
const CUT_GRACE_MS = 250;

/** `options` without the keys set to undefined, so spreading it over defaults keeps them. */
function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
