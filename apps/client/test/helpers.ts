import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "@rngbalance/server";

/** The built `rng-client` entry point (tests run after the build). */
export const CLIENT_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** A running `rng-client` child process with its output so far. */
export interface ClientProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Settles at exit, once stdout and stderr are closed too. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once stdout has at least `n` lines matching `pattern`. */
  waitForLines(pattern: RegExp, n: number, timeoutMs?: number): Promise<void>;
}

/** Starts `rng-client` with `args` (see childProcessEnv for its environment). */
export function startClient(args: string[]): ClientProcess {
  const child = spawn(process.execPath, [CLIENT_MAIN, ...args], {
    env: childProcessEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
    for (const w of waiters) w();
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const exited = once(child, "close").then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLines(pattern, n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (out.split("\n").filter((l) => pattern.test(l)).length >= n) finish(resolve);
        };
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`no ${n} lines matching ${pattern} within ${timeoutMs} ms:\n${out}${err}`)),
            ),
          timeoutMs,
        );
        waiters.add(check);
        void exited.then(() => {
          check();
          if (waiters.has(check))
            finish(() => reject(new Error(`exited before ${n} lines matching ${pattern}:\n${out}${err}`)));
        });
        check();
      });
    },
  };
}

/** Runs `rng-client` to its end (killing it after `timeoutMs`). */
export async function runClient(
  args: string[],
  timeoutMs = 30_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const c = startClient(args);
  const timer = setTimeout(() => c.child.kill("SIGKILL"), timeoutMs);
  const status = await c.exited;
  clearTimeout(timer);
  return { ...status, stdout: c.stdout(), stderr: c.stderr() };
}
