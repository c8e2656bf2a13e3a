import { randomBytes } from "node:crypto";
import * as http from "node:http";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import {
  Health,
  Rng,
  RngService,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@rngbalance/proto";
import { createHttp2Server, fastConnectNodeAdapter } from "./fast/index.js";
import { createHealthService, HealthRegistry } from "./health.js";
import { DualProtocolListener } from "./listener.js";
import { createJsonLogger, type Logger } from "./log.js";
import { createReflectionService, ReflectionIndex, reflectionServices } from "./reflection.js";
import { createLegacyRngService, createRngService, type Fault, type Instance } from "./rng-service.js";
import { unknownMethodFallback } from "./unknown-method.js";

/** Options of {@link startRngServer}. */
export interface RngServerOptions {
  /** Address to listen on. Default "0.0.0.0". */
  host?: string;
  /** Port to listen on; 0 picks a free port. Default 8081. */
  port?: number;
  /** Largest request message accepted, in bytes; larger ones fail with RESOURCE_EXHAUSTED. Default 4 MiB. */
  readMaxBytes?: number;
  /** After a drain starts, how long in-flight calls may run before connections are cut. Default 10000. */
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
  /**
   * Serve unary gRPC calls over HTTP/2 on the fast path (src/fast/), every
   * other call with connect-node; false serves everything with connect-node.
   * Default true.
   */
  fastPath?: boolean;
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
   * (at most `drainTimeoutMs`), then cut what is left. Idempotent.
   */
  drain(): Promise<void>;
}

/** The services the server answers for in health checks, "" being the whole server. */
const HEALTH_SERVICES = ["", Rng.typeName, RngService.typeName];

/** Starts an Rng server: Connect, gRPC and gRPC-Web over h2c and HTTP/1.1 on one port. */
export async function startRngServer(options: RngServerOptions = {}): Promise<RngServer> {
  const host = options.host ?? "0.0.0.0";
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const graceMs = options.maxConnectionAgeGraceMs ?? 10_000;
  const logger = options.logger ?? createJsonLogger();
  const health = new HealthRegistry();
  const fault = options.fault ?? "none";
  const rn = options.rn ?? randomBytes(8).readBigInt64BE() & 0x7fff_ffff_ffff_ffffn;
  const instance: { rn: bigint; name: string } = { rn, name: hostname() };
  const reflection = new ReflectionIndex([Rng, RngService, Health, ...reflectionServices]);

  let draining = false;
  const handler = fastConnectNodeAdapter({
    fastPath: options.fastPath ?? true,
    readMaxBytes: options.readMaxBytes ?? 4 * 1024 * 1024,
    routes(router) {
      router.service(Rng, createLegacyRngService(instance, fault));
      router.service(RngService, createRngService(instance, fault));
      router.service(Health, createHealthService(health));
      for (const service of reflectionServices) router.service(service, createReflectionService(reflection));
    },
    fallback: unknownMethodFallback,
  });

  const h1Sockets = new Set<net.Socket>();
  const h1 = http.createServer((req, res) => {
    // During a drain, HTTP/1.1 connections close after their current response.
    if (draining) res.setHeader("Connection", "close");
    handler(req, res);
  });
  h1.on("connection", (socket: net.Socket) => {
    h1Sockets.add(socket);
    socket.once("close", () => h1Sockets.delete(socket));
  });

  const sessions = new Set<http2.ServerHttp2Session>();
  const h2 = createHttp2Server({}, handler);
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    // A stream error is the client's problem; never let it crash the process.
    session.on("error", (err) => logger.log("debug", "http2 session error", { err }));
    if (options.maxConnectionAgeMs) scheduleMaxAge(session, options.maxConnectionAgeMs, graceMs);
  });

  const listener = new DualProtocolListener(h1, h2);
  const address = await listener.listen(host, options.port ?? 8081);
  instance.name = `${hostname()}/${address.address}:${address.port}`;
  const serving = fault === "not-serving" ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  for (const service of HEALTH_SERVICES) health.setStatus(service, serving);
  logger.log("info", "listening", {
    ...(fault === "none" ? {} : { fault }),
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
    logger.log("info", "draining", { shutdownDelayMs: options.shutdownDelayMs ?? 0, drainTimeoutMs });
    if (options.shutdownDelayMs) await sleep(options.shutdownDelayMs);
    const closed = new Promise<void>((resolve) => listener.tcp.close(() => resolve()));
    // session.close() sends GOAWAY: the client may not open new streams here,
    // and the session ends once its open streams have finished.
    for (const session of sessions) session.close();
    const deadline = Date.now() + drainTimeoutMs;
    while ((sessions.size > 0 || h1Sockets.size > 0) && Date.now() < deadline) {
      h1.closeIdleConnections();
      await sleep(20);
    }
    const cut = sessions.size + h1Sockets.size;
    for (const session of sessions) session.destroy();
    for (const socket of h1Sockets) socket.destroy();
    await closed;
    logger.log("info", "drained", { tookMs: Date.now() - started, connectionsCut: cut });
  }

  function scheduleMaxAge(session: http2.ServerHttp2Session, ageMs: number, graceMs: number): void {
    const jittered = ageMs * (0.9 + Math.random() * 0.2);
    const ageTimer = setTimeout(() => {
      session.close();
      const graceTimer = setTimeout(() => session.destroy(), graceMs);
      graceTimer.unref();
      session.once("close", () => clearTimeout(graceTimer));
    }, jittered);
    ageTimer.unref();
    session.once("close", () => clearTimeout(ageTimer));
  }
}
