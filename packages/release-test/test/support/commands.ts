import { spawn } from "node:child_process";
import { once } from "node:events";
import { childProcessEnv } from "@rngbalance/testkit";

/** How a command ended, with its whole output. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time, in ms. */
  ms: number;
}

/** Options of {@link run}. */
export interface RunOptions {
  cwd: string;
  /** The child's whole environment. Default: this process's (see childProcessEnv). */
  env?: NodeJS.ProcessEnv;
  /** Killed (SIGKILL) after this long, in ms. Default 120000. */
  timeoutMs?: number;
  /** Resolve even when the command fails, instead of throwing. Default false. */
  allowFailure?: boolean;
}

/**
 * Runs `command ...args` (no shell) to its end and returns its output. Throws
 * when it exits non-zero or times out (unless `allowFailure`), with the
 * command line, the directory and both outputs in the message, so that a
 * failing step says what the tool said.
 */
export async function run(
  command: string,
  args: readonly string[],
  options: RunOptions,
): Promise<CommandResult> {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? childProcessEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const timeoutMs = options.timeoutMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
    const result = { code, signal, stdout, stderr, ms: Date.now() - started };
    if ((code !== 0 || timedOut) && !options.allowFailure) {
      const how = timedOut ? `was killed after ${timeoutMs} ms` : `exited with ${signal ?? `code ${code}`}`;
      throw new Error(
        `${[command, ...args].join(" ")} (in ${options.cwd}) ${how}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The environment for npm and pnpm run by the test: this process's, minus
 * every npm_config_* variable. pnpm sets them for the scripts it runs
 * (`pnpm test`), and npm reads them before any config file, so they would
 * override the registry, cache and user config the test gives npm.
 */
export function packageManagerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = childProcessEnv(extra);
  for (const key of Object.keys(env)) {
    if (/^npm_config_/i.test(key) && !(key in extra)) delete env[key];
  }
  return env;
}
