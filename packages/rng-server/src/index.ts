/**
 * The Rng server as a library: start it in-process (tests, benchmarks) with
 * the same behaviour as the `rng-server` command. Process and fleet
 * fixtures for tests are in the `@rngbalance/server/testing` subpath.
 *
 * @packageDocumentation
 */
export { type Fault, formatFault, type Instance, MAX_FAULT_MS, parseFault } from "./rng-service.js";
export { RNG_SERVER_DEFAULTS, type RngServer, type RngServerOptions, startRngServer } from "./server.js";
