import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** Options of {@link spawnRngServer}. */
export interface SpawnRngServerOptions {
  /** Listen address (a "pod IP" such as 127.0.0.2). Default "127.0.0.1". */
  host?: string;
  /** Listen port; 0 picks a free one. Default 0. */
  port?: number;
  /** More `rng-server` flags, e.g. ["--drain-timeout-ms", "2000"]. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** How long to wait for the "listening" log line. Default 10000. */
  startTimeoutMs?: number;
}

/** How a server process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** An `rng-server` child process that is listening. */
export interface RngServerProcess {
  readonly child: ChildProcess;
  /** "host:port" it listens on. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The number every call to this instance returns. */
  readonly rn: bigint;
  /** Every JSON log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** Sends `signal` (default SIGTERM: graceful drain) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

/**
 * The environment for a node child process started from this one: `extra`
 * added, and NODE_TEST_CONTEXT removed. node:test sets that variable, and
 * a node child that inherits it talks the test runner's protocol on stdout,
 * so its own output disappears.
 */
export function childProcessEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return { ...env, ...extra };
}

/** Path of the built `rng-server` entry point. */
export const RNG_SERVER_MAIN = fileURLToPath(new URL("./main.js", import.meta.url));

/**
 * Starts `rng-server` as a real child process and resolves once it logs
 * "listening". Rejects with its stderr if it exits or stays silent first.
 */
export async function spawnRngServer(options: SpawnRngServerOptions = {}): Promise<RngServerProcess> {
  const host = options.host ?? "127.0.0.1";
  const child = spawn(
    process.execPath,
    [RNG_SERVER_MAIN, "--host", host, "--port", String(options.port ?? 0), ...(options.args ?? [])],
    { stdio: ["ignore", "pipe", "pipe"], env: childProcessEnv(options.env) },
  );
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }) as ExitStatus);
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let buffered = "";
  let onListening: ((line: Record<string, unknown>) => void) | undefined;
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        if (line.msg === "listening") onListening?.(line);
      } catch {
        stderr += `${text}\n`;
      }
    }
  });
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const listening = await Promise.race([
      new Promise<Record<string, unknown>>((resolve) => {
        onListening = resolve;
      }),
      exited.then((status) => {
        throw new Error(
          `rng-server exited (${status.code ?? status.signal}) before listening: ${stderr.trim()}`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`rng-server did not listen within ${timeoutMs} ms: ${stderr.trim()}`)),
          timeoutMs,
        );
      }),
    ]);
    const address = String(listening.address);
    const port = Number(address.slice(address.lastIndexOf(":") + 1));
    return {
      child,
      address,
      host,
      port,
      rn: BigInt(String(listening.rn)),
      logs,
      exited,
      stop(signal: NodeJS.Signals = "SIGTERM") {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
