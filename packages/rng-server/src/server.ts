import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import {
  type ConnectServer,
  type ConnectServerSettings,
  createJsonLogger,
  type Logger,
  startConnectServer,
} from "@rngbalance/connect-server";
import { Rng, RngService } from "@rngbalance/proto";
import {
  createLegacyRngService,
  createRngService,
  type Fault,
  formatFault,
  type Instance,
} from "./rng-service.js";

/** The Rng server's own defaults, over those of the connect-server package. */
export const RNG_SERVER_DEFAULTS = { port: 8081, fault: "none" } as const;

/** Options of {@link startRngServer}: the server settings, and the Rng service's own. */
export interface RngServerOptions extends ConnectServerSettings {
  /** Port to listen on; 0 picks a free port. Default 8081. */
  port?: number;
  /** The random number to serve; default a random non-negative int64 (as the original demo). */
  rn?: bigint;
  /**
   * Fault injection, to watch clients cope with a bad pod: "unavailable"
   * fails every Rng call with UNAVAILABLE; "not-serving" reports NOT_SERVING
   * in health checks but still answers; `{ kind: "latency", ms }` answers
   * every call `ms` late; `{ kind: "cpu", ms }` burns `ms` of CPU in every
   * call. Default "none".
   */
  fault?: Fault;
  /** Logger; default JSON lines on stdout. */
  logger?: Logger;
}

/** A running Rng server. */
export interface RngServer extends ConnectServer {
  /** Who this instance is: its number and name. */
  readonly instance: Instance;
}

/** Starts an Rng server: Connect, gRPC and gRPC-Web over h2c and HTTP/1.1 on one port. */
export async function startRngServer(options: RngServerOptions = {}): Promise<RngServer> {
  const fault = options.fault ?? RNG_SERVER_DEFAULTS.fault;
  const rn = options.rn ?? randomBytes(8).readBigInt64BE() & 0x7fff_ffff_ffff_ffffn;
  // The name includes the address, known once listening; the services read it per call.
  const instance: { rn: bigint; name: string } = { rn, name: hostname() };
  const logger = options.logger ?? createJsonLogger();
  const server = await startConnectServer({
    ...options,
    port: options.port ?? RNG_SERVER_DEFAULTS.port,
    logger,
    services: [Rng, RngService],
    routes(router) {
      router.service(Rng, createLegacyRngService(instance, fault));
      router.service(RngService, createRngService(instance, fault));
    },
    notServing: fault === "not-serving" ? ["", Rng.typeName, RngService.typeName] : [],
    listeningFields: { ...(fault === "none" ? {} : { fault: formatFault(fault) }), rn: instance.rn },
  });
  instance.name = `${hostname()}/${server.address.address}:${server.address.port}`;
  return Object.assign(server, { instance });
}
