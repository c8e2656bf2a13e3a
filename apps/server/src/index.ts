/**
 * The Rng server as a library: start it in-process (tests, benchmarks) with
 * the same behaviour as the `rng-server` command. Process and fleet
 * fixtures for tests are in the `@rngbalance/server/testing` subpath.
 *
 * @packageDocumentation
 */
export type { Fault, Instance } from "./rng-service.js";
export { RNG_SERVER_DEFAULTS, type RngServer, type RngServerOptions, startRngServer } from "./server.js";
