import { parseArgs } from "node:util";
import type { RngServerOptions } from "./server.js";

/** Usage text of `rng-server --help`. */
export const USAGE = `Usage: rng-server [flags]

Serves the Rng service (legacy /rng.Rng/Rng and rng.v1.RngService) over gRPC,
gRPC-Web and Connect on one port, with grpc.health.v1 and server reflection.

Flags (each also read from the environment variable shown; flags win):
  --host <addr>                  listen address              RNG_HOST                   default 0.0.0.0
  --port <n>                     listen port (0 = any free)  RNG_PORT                   default 8081
  --read-max-bytes <n>           largest request message    RNG_READ_MAX_BYTES         default 4194304
  --drain-timeout-ms <n>         in-flight calls may finish  RNG_DRAIN_TIMEOUT_MS       default 10000
  --shutdown-delay-ms <n>        serve NOT_SERVING first     RNG_SHUTDOWN_DELAY_MS      default 0
  --max-connection-age-ms <n>    GOAWAY after (0 = off)      RNG_MAX_CONNECTION_AGE_MS  default 0
  --log-level <level>            debug|info|warn|error       RNG_LOG_LEVEL              default info
  --fault <kind>                 none|unavailable|not-serving RNG_FAULT                 default none
                                 (fault injection for demos and chaos tests)
  -h, --help                     print this help

SIGTERM or SIGINT drains gracefully and exits 0; a second signal exits at once.`;

/** What the command line asks for. */
export type ServerConfig = Required<
  Pick<
    RngServerOptions,
    "host" | "port" | "readMaxBytes" | "drainTimeoutMs" | "shutdownDelayMs" | "maxConnectionAgeMs" | "fault"
  >
> & { logLevel: "debug" | "info" | "warn" | "error" };

/** A flag or variable with a bad value; the message says which and why. */
export class ConfigError extends Error {}

/** Parses flags over environment variables over defaults. Throws ConfigError. */
export function parseServerConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { help: true } | { help: false; config: ServerConfig } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "read-max-bytes": { type: "string" },
        "drain-timeout-ms": { type: "string" },
        "shutdown-delay-ms": { type: "string" },
        "max-connection-age-ms": { type: "string" },
        "log-level": { type: "string" },
        fault: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (values.help) return { help: true };
  const pick = (flag: string, variable: string) => {
    const v = values[flag];
    return typeof v === "string" ? { v, from: `--${flag}` } : { v: env[variable], from: variable };
  };
  const int = (flag: string, variable: string, fallback: number, min: number, max: number) => {
    const { v, from } = pick(flag, variable);
    if (v === undefined || v === "") return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${from} must be a whole number from ${min} to ${max}, got "${v}"`);
    }
    return n;
  };
  const logLevel = pick("log-level", "RNG_LOG_LEVEL").v ?? "info";
  if (!["debug", "info", "warn", "error"].includes(logLevel)) {
    throw new ConfigError(`--log-level must be debug, info, warn or error, got "${logLevel}"`);
  }
  const fault = pick("fault", "RNG_FAULT").v || "none";
  if (!["none", "unavailable", "not-serving"].includes(fault)) {
    throw new ConfigError(`--fault must be none, unavailable or not-serving, got "${fault}"`);
  }
  return {
    help: false,
    config: {
      host: pick("host", "RNG_HOST").v || "0.0.0.0",
      port: int("port", "RNG_PORT", 8081, 0, 65535),
      readMaxBytes: int("read-max-bytes", "RNG_READ_MAX_BYTES", 4 * 1024 * 1024, 1, 2 ** 31 - 1),
      drainTimeoutMs: int("drain-timeout-ms", "RNG_DRAIN_TIMEOUT_MS", 10_000, 0, 3_600_000),
      shutdownDelayMs: int("shutdown-delay-ms", "RNG_SHUTDOWN_DELAY_MS", 0, 0, 3_600_000),
      maxConnectionAgeMs: int("max-connection-age-ms", "RNG_MAX_CONNECTION_AGE_MS", 0, 0, 2 ** 31 - 1),
      logLevel: logLevel as ServerConfig["logLevel"],
      fault: fault as ServerConfig["fault"],
    },
  };
}
