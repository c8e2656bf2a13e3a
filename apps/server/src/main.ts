#!/usr/bin/env node
/**
 * The rng-server app's entry point: the `rng-server` bin and the image's
 * `node dist/main.js`. The program is `@rngbalance/rng-server`'s `main`: it
 * reads the flags and RNG_* variables, installs the SIGTERM and SIGINT
 * handlers (drain, then exit 0) before the server starts, and serves until
 * a signal. deploy/test/dockerfile.ts follows this import to find them.
 *
 * @packageDocumentation
 */
import { main } from "@rngbalance/rng-server";

await main(process.argv.slice(2), process.env);
