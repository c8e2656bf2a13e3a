import { FlagError, type FlagSpec, parseDuration, parseFlags, renderFlagTable } from "@rngbalance/cli";
import { type ConnectServerTls, connectServerFlags, settingsFromFlags } from "@rngbalance/connect-server";
import { type Fault, parseFault } from "./rng-service.js";
import { RNG_SERVER_DEFAULTS, type RngServerOptions } from "./server.js";

/** The server's flags: each also read from its environment variable (RNG_*). */
export const SERVER_FLAGS = {
  ...connectServerFlags("RNG", { port: RNG_SERVER_DEFAULTS.port }),
  "log-level": {
    type: "enum",
    env: "RNG_LOG_LEVEL",
    values: ["debug", "info", "warn", "error"],
    default: "info",
    placeholder: "level",
    help: "debug|info|warn|error",
  },
  "metrics-addr": {
    type: "string",
    env: "RNG_METRICS_ADDR",
    placeholder: "host:port",
    help: "serve Prometheus /metrics here\n(e.g. 0.0.0.0:9464, :9464)",
    validate: (v) =>
      /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/.test(v) ? undefined : "must be host:port, e.g. 0.0.0.0:9464",
  },
  fault: {
    type: "string",
    env: "RNG_FAULT",
    default: RNG_SERVER_DEFAULTS.fault,
    placeholder: "kind",
    help: "none|unavailable|not-serving|latency:<duration>|cpu:<duration>\n(fault injection for demos, chaos tests and benchmarks:\nlatency:50ms answers every call 50 ms late,\ncpu:5ms burns 5 ms of CPU in every call)",
    validate: (value) => {
      const parsed = parseFault(value, parseDuration);
      return "problem" in parsed ? parsed.problem : undefined;
    },
  },
} as const satisfies Record<string, FlagSpec>;

/** Usage text of `rng-server --help`. */
export const USAGE = `Usage: rng-server [flags]

Serves the Rng service (legacy /rng.Rng/Rng and rng.v1.RngService) over gRPC,
gRPC-Web and Connect on one port, with grpc.health.v1 and server reflection.

Flags (each also read from the environment variable shown; flags win):
${renderFlagTable(SERVER_FLAGS)}

OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER /
OTEL_METRICS_EXPORTER=otlp) exports traces and metrics over OTLP/HTTP;
OTEL_SERVICE_NAME (default rng-server), OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED.

SIGTERM or SIGINT drains gracefully and exits 0; a second signal exits at once.`;

/** What the command line asks for. */
export type ServerConfig = Required<Omit<RngServerOptions, "rn" | "logger" | "telemetry" | "tls">> & {
  /** TLS from --tls-cert/--tls-key/--tls-ca/--tls-client-auth (files read); undefined: cleartext. */
  tls: ConnectServerTls | undefined;
  logLevel: "debug" | "info" | "warn" | "error";
  /** Where to serve Prometheus /metrics; undefined: nowhere. */
  metricsAddr: string | undefined;
};

/** A flag or variable with a bad value; the message says which and why. */
export { FlagError as ConfigError };

/** The fault a checked --fault value names (the flag's validate has accepted it). */
function faultOf(text: string): Fault {
  const parsed = parseFault(text, parseDuration);
  if ("problem" in parsed) throw new FlagError(`--fault ${parsed.problem}`);
  return parsed.fault;
}

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
      ...settingsFromFlags(v),
      logLevel: v["log-level"],
      fault: faultOf(v.fault),
      metricsAddr: v["metrics-addr"],
    },
  };
}
