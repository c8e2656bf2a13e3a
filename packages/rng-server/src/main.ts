#!/usr/bin/env node
/**
 * The `rng-server` command (this package's bin): {@link main} on this
 * process's command line and environment. The process and fleet fixtures
 * spawn this file by default (`RNG_SERVER_MAIN`).
 *
 * @packageDocumentation
 */
import { main } from "./cli.js";

await main(process.argv.slice(2), process.env);
