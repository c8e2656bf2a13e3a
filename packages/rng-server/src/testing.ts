/**
 * Fixtures for end-to-end tests, the demo and the bench: `rng-server` as a
 * child process, and as a fleet of pods on loopback behind an embedded DNS
 * server. A subpath of its own, so that the server itself (and the
 * apps/server image) carries none of the test infrastructure it imports:
 * `@rngbalance/local-fleet` and `@rngbalance/testkit` are dev dependencies
 * of this package, present in the workspace and absent from a production
 * install.
 *
 * By default the fixtures spawn this package's own `rng-server` entry
 * ({@link RNG_SERVER_MAIN}); the `main` option runs another entry that calls
 * the same program, such as the deployable app's `apps/server/dist/main.js`.
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
