import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** An entry point written by {@link writeMainWrapper}. */
export interface MainWrapper {
  /** The entry's path (a .mjs file in a temporary folder of its own). */
  readonly path: string;
  /** Deletes it and its folder. */
  remove(): void;
}

/**
 * Writes an entry point of its own, outside the package, that imports
 * `main` from the module at `indexUrl` and runs it with the process's
 * arguments and environment, as apps/server's bin runs
 * `@rngbalance/rng-server`'s main: for tests that a program started through
 * someone else's entry behaves as through the package's own.
 */
export function writeMainWrapper(indexUrl: string): MainWrapper {
  const dir = mkdtempSync(join(tmpdir(), "main-wrapper-"));
  const path = join(dir, "entry.mjs");
  writeFileSync(
    path,
    `import { main } from ${JSON.stringify(indexUrl)};\nawait main(process.argv.slice(2), process.env);\n`,
  );
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
