/**
 * The Rng server as a library: start it in-process (tests, benchmarks) with
 * the same behaviour as the `rng-server` command.
 *
 * @packageDocumentation
 */
export {
  createGrpcUnaryFastPath,
  createHttp2Server,
  FAST_PATH_CHANNEL,
  type FastConnectNodeAdapterOptions,
  type FastPathDecision,
  fastConnectNodeAdapter,
  type GrpcUnaryFastPath,
  type GrpcUnaryFastPathOptions,
  type GrpcUnaryFastPathStats,
  type NodeHandlerWithFastPath,
  serveWithFastPath,
} from "./fast/index.js";
export type { HealthRegistry } from "./health.js";
export { createJsonLogger, type LogFields, type Logger, type LogLevel } from "./log.js";
export {
  childProcessEnv,
  type ExitStatus,
  RNG_SERVER_MAIN,
  type RngServerProcess,
  type SpawnRngServerOptions,
  spawnRngServer,
} from "./process.js";
export type { Instance } from "./rng-service.js";
export { type RngServer, type RngServerOptions, startRngServer } from "./server.js";
