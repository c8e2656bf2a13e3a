/**
 * The Rng server: the Rng service (legacy `/rng.Rng/Rng` and
 * `rng.v1.RngService`) on `@rngbalance/connect-server`, its flags, and the
 * `rng-server` program. Start it in-process (tests, benchmarks) with
 * {@link startRngServer}, with the same behaviour as the `rng-server`
 * command; run the command itself from an entry point with {@link main}
 * (apps/server, which owns the `rng-server` bin, does). The `./main` subpath
 * is that entry, runnable with node; `@rngbalance/rng-fleet` spawns it as
 * processes and fleets for tests, the demo and the bench.
 *
 * @packageDocumentation
 */
export { main } from "./cli.js";
export { ConfigError, parseServerConfig, SERVER_FLAGS, type ServerConfig, USAGE } from "./config.js";
export { type Fault, formatFault, type Instance, MAX_FAULT_MS, parseFault } from "./rng-service.js";
export { RNG_SERVER_DEFAULTS, type RngServer, type RngServerOptions, startRngServer } from "./server.js";
