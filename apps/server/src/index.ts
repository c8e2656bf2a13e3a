/**
 * The Rng server as a library: start it in-process (tests, benchmarks) with
 * the same behaviour as the `rng-server` command, or as a child process and
 * as a fleet of pods on loopback for end-to-end tests.
 *
 * @packageDocumentation
 */
export { type RngFleet, type RngFleetOptions, startRngFleet } from "./fleet.js";
export {
  RNG_SERVER_MAIN,
  type RngServerProcess,
  type SpawnRngServerOptions,
  spawnRngServer,
} from "./process.js";
export type { Fault, Instance } from "./rng-service.js";
export { RNG_SERVER_DEFAULTS, type RngServer, type RngServerOptions, startRngServer } from "./server.js";
