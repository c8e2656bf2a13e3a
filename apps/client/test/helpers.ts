import { fileURLToPath } from "node:url";
import { type NodeProcess, runNode, spawnNode } from "@rngbalance/testkit";

/** The built `rng-client` entry point (tests run after the build). */
export const CLIENT_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** A running `rng-client` child process with its output so far. */
export type ClientProcess = NodeProcess;

/** Starts `rng-client` with `args` (see childProcessEnv for its environment). */
export function startClient(args: string[]): ClientProcess {
  return spawnNode(CLIENT_MAIN, args);
}

/** Runs `rng-client` to its end (killing it after `timeoutMs`). */
export function runClient(args: string[], timeoutMs = 30_000) {
  return runNode(CLIENT_MAIN, args, timeoutMs);
}
