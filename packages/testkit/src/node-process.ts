import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { childProcessEnv } from "./env.js";

/** How a child process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running node child process with its output so far. */
export interface NodeProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Settles at exit, once stdout and stderr are closed too. */
  readonly exited: Promise<ExitStatus>;
  /** Resolves once stdout has at least `n` lines matching `pattern`; rejects on exit or after `timeoutMs` (default 10000). */
  waitForLines(pattern: RegExp, n: number, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (default SIGTERM) unless it has exited, and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

/** Options of {@link spawnNode}. */
export interface SpawnNodeOptions {
  /** Extra environment variables (see childProcessEnv for the rest). */
  env?: Record<string, string>;
  /** Options for node itself, e.g. ["--cpu-prof"]. Default none. */
  nodeArgs?: string[];
  /** Standard input: "ignore" (default) or "pipe". */
  stdin?: "ignore" | "pipe";
}

/** Starts `node main ...args` with piped output, in the environment childProcessEnv gives. */
export function spawnNode(
  main: string,
  args: readonly string[],
  options: SpawnNodeOptions = {},
): NodeProcess {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), main, ...args], {
    env: childProcessEnv(options.env),
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
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
    stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
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

/** Runs `node main ...args` to its end, killing it after `timeoutMs` (default 30000). */
export async function runNode(
  main: string,
  args: readonly string[],
  timeoutMs = 30_000,
  options: SpawnNodeOptions = {},
): Promise<ExitStatus & { stdout: string; stderr: string }> {
  const p = spawnNode(main, args, options);
  const timer = setTimeout(() => p.child.kill("SIGKILL"), timeoutMs);
  const status = await p.exited;
  clearTimeout(timer);
  return { ...status, stdout: p.stdout(), stderr: p.stderr() };
}
