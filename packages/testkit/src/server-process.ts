import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { childProcessEnv } from "./env.js";
import type { ExitStatus } from "./node-process.js";

/** Options of {@link spawnJsonLogServer}. */
export interface SpawnJsonLogServerOptions {
  /** The server's entry point (a built .js file). */
  main: string;
  /** Its arguments. */
  args?: readonly string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** The `msg` of the log line that says it is ready; it must carry `address: "host:port"`. Default "listening". */
  readyMessage?: string;
  /** How long to wait for that line. Default 10000. */
  startTimeoutMs?: number;
  /** A name for error messages. Default the file name of `main`. */
  name?: string;
}

/** A server child process that logs JSON lines and is ready. */
export interface JsonLogServerProcess {
  readonly child: ChildProcess;
  /** "host:port" it listens on, from the ready line. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The ready line, parsed. */
  readonly ready: Record<string, unknown>;
  /** Every JSON log line so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  /** Sends `signal` (default SIGTERM: a graceful drain) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
}

/**
 * Starts a server that logs one JSON object per line on stdout, as a real
 * child process, and resolves once it logs its ready line. Rejects with its
 * stderr if it exits or stays silent first (and kills it).
 */
export async function spawnJsonLogServer(options: SpawnJsonLogServerOptions): Promise<JsonLogServerProcess> {
  const name = options.name ?? options.main.split("/").pop();
  const readyMessage = options.readyMessage ?? "listening";
  const child = spawn(process.execPath, [options.main, ...(options.args ?? [])], {
    stdio: ["ignore", "pipe", "pipe"],
    env: childProcessEnv(options.env),
  });
  const exited = once(child, "exit").then(([code, signal]) => ({ code, signal }) as ExitStatus);
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let buffered = "";
  let onReady: ((line: Record<string, unknown>) => void) | undefined;
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      try {
        const line = JSON.parse(text) as Record<string, unknown>;
        logs.push(line);
        if (line.msg === readyMessage) onReady?.(line);
      } catch {
        stderr += `${text}\n`;
      }
    }
  });
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const ready = await Promise.race([
      new Promise<Record<string, unknown>>((resolve) => {
        onReady = resolve;
      }),
      exited.then((status) => {
        throw new Error(
          `${name} exited (${status.code ?? status.signal}) before ${readyMessage}: ${stderr.trim()}`,
        );
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`${name} did not log "${readyMessage}" within ${timeoutMs} ms: ${stderr.trim()}`),
            ),
          timeoutMs,
        );
      }),
    ]);
    const address = String(ready.address);
    const colon = address.lastIndexOf(":");
    return {
      child,
      address,
      host: address.slice(0, colon).replace(/^\[|\]$/g, ""),
      port: Number(address.slice(colon + 1)),
      ready,
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
