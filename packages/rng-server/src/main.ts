/**
 * The `rng-server` program as a runnable entry (this package's `./main`
 * export): {@link main} on this process's command line and environment.
 * `@rngbalance/rng-fleet`'s process and fleet fixtures spawn this file by
 * default. It is not a bin: the `rng-server` command is apps/server's, the
 * deployable program, whose entry is the same two lines.
 *
 * @packageDocumentation
 */
import { main } from "./cli.js";

await main(process.argv.slice(2), process.env);
