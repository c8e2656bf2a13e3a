/**
 * Fixtures for end-to-end tests, the demo and the bench: `rng-server` as a
 * child process, and as a fleet of pods on loopback behind an embedded DNS
 * server. A subpath of its own, so that the server itself (and its image)
 * carries none of the test infrastructure it imports.
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
