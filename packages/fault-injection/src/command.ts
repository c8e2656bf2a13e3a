import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/**
 * Runs a command and resolves with its stdout; rejects with an Error that
 * names the command and carries its stderr, so a failed `ip` or `nft` says why.
 */
export function run(file: string, args: readonly string[], timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: "utf8", timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${file} ${args.join(" ")} failed: ${(stderr || err.message).trim()}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** {@link run}, synchronously and ignoring failure: for cleanup on process exit, where nothing async runs. */
export function runQuietlySync(file: string, args: readonly string[]): void {
  try {
    execFileSync(file, args, { stdio: "ignore", timeout: 5000 });
  } catch {
    // Already gone, or nothing more can be done at exit.
  }
}

/**
 * A name no other run on this machine uses at the same time: `<prefix>-<pid>-<random>`.
 * Namespaces and nftables tables are global to the machine (or namespace),
 * so parallel test runs must not share names. At most 31 characters.
 */
export function uniqueName(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) {
    throw new TypeError(
      `uniqueName: prefix must be 1-12 lowercase letters/digits starting with a letter, got "${prefix}"`,
    );
  }
  return `${prefix}-${process.pid.toString(36)}-${randomBytes(3).toString("hex")}`;
}

type Cleanup = () => void;
const cleanups = new Map<symbol, Cleanup>();
let hooked = false;

function runCleanups(): void {
  // Newest first: rules inside a namespace go before the namespace.
  for (const key of [...cleanups.keys()].reverse()) {
    const cleanup = cleanups.get(key);
    cleanups.delete(key);
    cleanup?.();
  }
}

/**
 * Registers a synchronous cleanup that runs when the process exits (or is
 * ended by SIGINT/SIGTERM/SIGHUP) before the owner released it, so a crashed
 * or interrupted run leaves no namespace, rule or stopped process behind.
 * Returns the function that unregisters it (call it once the owner cleaned up).
 */
export function cleanupOnExit(cleanup: Cleanup): () => void {
  if (!hooked) {
    hooked = true;
    process.on("exit", runCleanups);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.once(signal, () => {
        runCleanups();
        // The default action, now that the cleanups ran: end as the signal would have.
        process.kill(process.pid, signal);
      });
    }
  }
  const key = Symbol("cleanup");
  cleanups.set(key, cleanup);
  return () => cleanups.delete(key);
}
