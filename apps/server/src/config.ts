import { FlagError, type FlagSpec, parseFlags, renderFlagTable } from "@rngbalance/cli";
import { SERVER_DEFAULTS as D } from "./defaults.js";
import type { RngServerOptions } from "./server.js";

const MS_MAX = 2 ** 31 - 1;

/** The server's flags: each also read from its environment variable; defaults from SERVER_DEFAULTS. */
export const SERVER_FLAGS = {
  host: { type: "string", env: "RNG_HOST", default: D.host, placeholder: "addr", help: "listen address" },
  port: { type: "int", env: "RNG_PORT", default: D.port, max: 65535, help: "listen port (0 = any free)" },
  "read-max-bytes": {
    type: "int",
    env: "RNG_READ_MAX_BYTES",
    default: D.readMaxBytes,
    min: 1,
    max: MS_MAX,
    help: "largest request message",
  },
  "json-read-max-bytes": {
    type: "int",
    env: "RNG_JSON_READ_MAX_BYTES",
    default: D.jsonReadMaxBytes,
    min: 1,
    max: MS_MAX,
    help: "largest JSON request message",
  },
  "json-max-depth": {
    type: "int",
    env: "RNG_JSON_MAX_DEPTH",
    default: D.jsonMaxDepth,
    min: 1,
    max: 10_000,
    help: "deepest JSON nesting",
  },
  "drain-timeout-ms": {
    type: "int",
    env: "RNG_DRAIN_TIMEOUT_MS",
    default: D.drainTimeoutMs,
    max: 3_600_000,
    help: "in-flight calls may finish; then UNAVAILABLE",
  },
  "shutdown-delay-ms": {
    type: "int",
    env: "RNG_SHUTDOWN_DELAY_MS",
    default: D.shutdownDelayMs,
    max: 3_600_000,
    help: "serve NOT_SERVING first",
  },
  "max-connection-age-ms": {
    type: "int",
    env: "RNG_MAX_CONNECTION_AGE_MS",
    default: D.maxConnectionAgeMs,
    max: MS_MAX,
    help: "GOAWAY after (0 = off)",
  },
  "max-connection-age-grace-ms": {
    type: "int",
    env: "RNG_MAX_CONNECTION_AGE_GRACE_MS",
    default: D.maxConnectionAgeGraceMs,
    max: MS_MAX,
    help: "then calls may finish",
  },
  "detect-timeout-ms": {
    type: "int",
    env: "RNG_DETECT_TIMEOUT_MS",
    default: D.detectTimeoutMs,
    min: 1,
    max: MS_MAX,
    help: "first bytes of a connection",
  },
  "http1-headers-timeout-ms": {
    type: "int",
    env: "RNG_HTTP1_HEADERS_TIMEOUT_MS",
    default: D.http1HeadersTimeoutMs,
    min: 1,
    max: MS_MAX,
    help: "HTTP/1.1 request headers",
  },
  "http1-request-timeout-ms": {
    type: "int",
    env: "RNG_HTTP1_REQUEST_TIMEOUT_MS",
    default: D.http1RequestTimeoutMs,
    min: 1,
    max: MS_MAX,
    help: "HTTP/1.1 whole request",
  },
  "http1-keepalive-timeout-ms": {
    type: "int",
    env: "RNG_HTTP1_KEEPALIVE_TIMEOUT_MS",
    default: D.http1KeepaliveTimeoutMs,
    min: 1,
    max: MS_MAX,
    help: "HTTP/1.1 idle keep-alive",
  },
  "idle-timeout-ms": {
    type: "int",
    env: "RNG_IDLE_TIMEOUT_MS",
    default: D.idleTimeoutMs,
    max: MS_MAX,
    help: "HTTP/2 GOAWAY with no call (0 = off)",
  },
  "keepalive-time-ms": {
    type: "int",
    env: "RNG_KEEPALIVE_TIME_MS",
    default: D.keepaliveTimeMs,
    max: MS_MAX,
    help: "HTTP/2 PING period (0 = off)",
  },
  "keepalive-timeout-ms": {
    type: "int",
    env: "RNG_KEEPALIVE_TIMEOUT_MS",
    default: D.keepaliveTimeoutMs,
    min: 1,
    max: MS_MAX,
    help: "unanswered PING cuts",
  },
  "keepalive-min-time-ms": {
    type: "int",
    env: "RNG_KEEPALIVE_MIN_TIME_MS",
    default: D.keepaliveMinTimeMs,
    max: MS_MAX,
    help: "client PINGs faster: too_many_pings",
  },
  "keepalive-permit-without-calls": {
    type: "boolean",
    env: "RNG_KEEPALIVE_PERMIT_WITHOUT_CALLS",
    help: "allow client PINGs with no call",
  },
  "max-concurrent-streams": {
    type: "int",
    env: "RNG_MAX_CONCURRENT_STREAMS",
    default: D.maxConcurrentStreams,
    min: 1,
    max: 2 ** 32 - 1,
    help: "HTTP/2 calls per connection",
  },
  "max-connections": {
    type: "int",
    env: "RNG_MAX_CONNECTIONS",
    default: D.maxConnections,
    max: 1_000_000,
    help: "open connections (0 = no cap)",
  },
  "log-level": {
    type: "enum",
    env: "RNG_LOG_LEVEL",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    placeholder: "level",
    help: "debug|info|warn|error",
  },
  fault: {
    type: "enum",
    env: "RNG_FAULT",
    values: ["none", "unavailable", "not-serving"],
    default: D.fault,
    placeholder: "kind",
    help: "none|unavailable|not-serving\n(fault injection for demos and chaos tests)",
  },
} as const satisfies Record<string, FlagSpec>;

/** Usage text of `rng-server --help`. */
export const USAGE = `Usage: rng-server [flags]

Serves the Rng service (legacy /rng.Rng/Rng and rng.v1.RngService) over gRPC,
gRPC-Web and Connect on one port, with grpc.health.v1 and server reflection.

Flags (each also read from the environment variable shown; flags win):
${renderFlagTable(SERVER_FLAGS)}

SIGTERM or SIGINT drains gracefully and exits 0; a second signal exits at once.`;

/** What the command line asks for. */
export type ServerConfig = Required<Omit<RngServerOptions, "rn" | "logger">> & {
  logLevel: "debug" | "info" | "warn" | "error";
};

/** A flag or variable with a bad value; the message says which and why. */
export { FlagError as ConfigError };

/** Parses flags over environment variables over defaults. Throws ConfigError. */
export function parseServerConfig(
  argv: string[],
  env: NodeJS.ProcessEnv,
): { help: true } | { help: false; config: ServerConfig } {
  const parsed = parseFlags(SERVER_FLAGS, argv, env);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  return {
    help: false,
    config: {
      host: v.host || D.host,
      port: v.port,
      readMaxBytes: v["read-max-bytes"],
      jsonReadMaxBytes: v["json-read-max-bytes"],
      jsonMaxDepth: v["json-max-depth"],
      drainTimeoutMs: v["drain-timeout-ms"],
      shutdownDelayMs: v["shutdown-delay-ms"],
      maxConnectionAgeMs: v["max-connection-age-ms"],
      maxConnectionAgeGraceMs: v["max-connection-age-grace-ms"],
      detectTimeoutMs: v["detect-timeout-ms"],
      http1HeadersTimeoutMs: v["http1-headers-timeout-ms"],
      http1RequestTimeoutMs: v["http1-request-timeout-ms"],
      http1KeepaliveTimeoutMs: v["http1-keepalive-timeout-ms"],
      idleTimeoutMs: v["idle-timeout-ms"],
      keepaliveTimeMs: v["keepalive-time-ms"],
      keepaliveTimeoutMs: v["keepalive-timeout-ms"],
      keepaliveMinTimeMs: v["keepalive-min-time-ms"],
      keepalivePermitWithoutCalls: v["keepalive-permit-without-calls"],
      maxConcurrentStreams: v["max-concurrent-streams"],
      maxConnections: v["max-connections"],
      logLevel: v["log-level"],
      fault: v.fault,
    },
  };
}
