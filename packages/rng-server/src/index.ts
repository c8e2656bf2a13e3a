/**
 * The Rng server: the Rng service (legacy `/rng.Rng/Rng` and
 * `rng.v1.RngService`) on `@rngbalance/connect-server`, its flags, and the
 * `rng-server` program. Start it in-process (tests, benchmarks) with
 * {@link startRngServer}, with the same behaviour as the `rng-server`
 * command; run the command itself from an entry point with {@link main}
 * (apps/server does). Process and fleet fixtures for tests are in the
 * `@rngbalance/rng-server/testing` subpath.
 *
 * @packageDocumentation
 */
export { main } from "./cli.js";
export { ConfigError, parseServerConfig, SERVER_FLAGS, type ServerConfig, USAGE } from "./config.js";
export { type Fault, formatFault, type Instance, MAX_FAULT_MS, parseFault } from "./rng-service.js";
export { RNG_SERVER_DEFAULTS, type RngServer, type RngServerOptions, startRngServer } from "./server.js";
