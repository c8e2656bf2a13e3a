/**
 * A structured logger: one JSON object per line on stdout, so log shippers
 * (and tests) can parse every line. Kept dependency-free on purpose: the
 * server logs a handful of lifecycle events, not a request firehose.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** Writes structured log lines. */
export interface Logger {
  /** Logs `msg` with `fields` at `level`. */
  log(level: LogLevel, msg: string, fields?: LogFields): void;
  /** Returns a logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/**
 * Creates a JSON-lines logger writing to `write` (default: stdout).
 * Lines below `minLevel` (default "info") are dropped.
 */
export function createJsonLogger(
  options: { minLevel?: LogLevel; write?: (line: string) => void; fields?: LogFields } = {},
): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const min = order[options.minLevel ?? "info"];
  const write = options.write ?? writeStdout;
  const base = options.fields ?? {};
  return {
    log(level, msg, fields) {
      if (order[level] < min) return;
      write(
        `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, jsonSafe)}\n`,
      );
    },
    child(fields) {
      return createJsonLogger({ ...options, fields: { ...base, ...fields } });
    },
  };
}

let stdoutGuarded = false;

/**
 * Writes to stdout. EPIPE (stdout's reader went away: `rng-server | head`,
 * a log collector restarting) is ignored rather than thrown from the
 * stream's "error" event: losing log lines must not crash a server that is
 * serving or draining. Any other stdout error still throws.
 */
function writeStdout(line: string): void {
  if (!stdoutGuarded) {
    stdoutGuarded = true;
    process.stdout.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
    });
  }
  process.stdout.write(line);
}

/** JSON.stringify replacer for values JSON has no syntax for. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/** A socket's peer as "address:port", for logs ("?" once it is gone). */
export function remoteOf(socket: { remoteAddress?: string; remotePort?: number } | undefined): string {
  return socket?.remoteAddress === undefined ? "?" : `${socket.remoteAddress}:${socket.remotePort}`;
}
