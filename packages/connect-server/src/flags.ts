import { readFileSync } from "node:fs";
import { FlagError, type FlagSpec, type FlagValues } from "@rngbalance/cli";
import { type ConnectServerSettings, CONNECT_SERVER_DEFAULTS as D } from "./options.js";
import { type ClientAuth, type ConnectServerTls, tlsServerOptions } from "./tls.js";

const MS_MAX = 2 ** 31 - 1;

/**
 * The command-line flags for every {@link ConnectServerSettings} field,
 * each also read from `<envPrefix>_<NAME>` (e.g. RNG_DRAIN_TIMEOUT_MS), with
 * the defaults of CONNECT_SERVER_DEFAULTS unless `defaults` overrides some.
 * A service's `main` spreads these into its own flags and passes the
 * parsed values to {@link settingsFromFlags}.
 */
export function connectServerFlags(envPrefix: string, defaults: { port?: number; host?: string } = {}) {
  const env = (name: string) => `${envPrefix}_${name}`;
  const ms = (name: string, dflt: number, help: string, min = 0) =>
    ({ type: "int", env: env(name), default: dflt, min, max: MS_MAX, help }) as const;
  return {
    host: {
      type: "string",
      env: env("HOST"),
      default: defaults.host ?? D.host,
      placeholder: "addr",
      help: "listen address",
    },
    port: {
      type: "int",
      env: env("PORT"),
      default: defaults.port ?? D.port,
      max: 65535,
      help: "listen port (0 = any free)",
    },
    "read-max-bytes": { ...ms("READ_MAX_BYTES", D.readMaxBytes, "largest request message", 1) },
    "json-read-max-bytes": {
      ...ms("JSON_READ_MAX_BYTES", D.jsonReadMaxBytes, "largest JSON request message", 1),
    },
    "json-max-depth": {
      type: "int",
      env: env("JSON_MAX_DEPTH"),
      default: D.jsonMaxDepth,
      min: 1,
      max: 10_000,
      help: "deepest JSON nesting",
    },
    "drain-timeout-ms": ms(
      "DRAIN_TIMEOUT_MS",
      D.drainTimeoutMs,
      "in-flight calls may finish; then UNAVAILABLE",
    ),
    "shutdown-delay-ms": ms("SHUTDOWN_DELAY_MS", D.shutdownDelayMs, "serve NOT_SERVING first"),
    "max-connection-age-ms": ms("MAX_CONNECTION_AGE_MS", D.maxConnectionAgeMs, "GOAWAY after (0 = off)"),
    "max-connection-age-grace-ms": ms(
      "MAX_CONNECTION_AGE_GRACE_MS",
      D.maxConnectionAgeGraceMs,
      "then calls may finish",
    ),
    "detect-timeout-ms": ms("DETECT_TIMEOUT_MS", D.detectTimeoutMs, "first bytes of a connection", 1),
    "http1-headers-timeout-ms": ms(
      "HTTP1_HEADERS_TIMEOUT_MS",
      D.http1HeadersTimeoutMs,
      "HTTP/1.1 request headers",
      1,
    ),
    "http1-request-timeout-ms": ms(
      "HTTP1_REQUEST_TIMEOUT_MS",
      D.http1RequestTimeoutMs,
      "HTTP/1.1 whole request",
      1,
    ),
    "http1-keepalive-timeout-ms": ms(
      "HTTP1_KEEPALIVE_TIMEOUT_MS",
      D.http1KeepaliveTimeoutMs,
      "HTTP/1.1 idle keep-alive",
      1,
    ),
    "idle-timeout-ms": ms("IDLE_TIMEOUT_MS", D.idleTimeoutMs, "HTTP/2 GOAWAY with no call (0 = off)"),
    "keepalive-time-ms": ms("KEEPALIVE_TIME_MS", D.keepaliveTimeMs, "HTTP/2 PING period (0 = off)"),
    "keepalive-timeout-ms": ms("KEEPALIVE_TIMEOUT_MS", D.keepaliveTimeoutMs, "unanswered PING cuts", 1),
    "keepalive-min-time-ms": ms(
      "KEEPALIVE_MIN_TIME_MS",
      D.keepaliveMinTimeMs,
      "client PINGs faster: too_many_pings",
    ),
    "keepalive-permit-without-calls": {
      type: "boolean",
      env: env("KEEPALIVE_PERMIT_WITHOUT_CALLS"),
      help: "allow client PINGs with no call",
    },
    "max-concurrent-streams": {
      type: "int",
      env: env("MAX_CONCURRENT_STREAMS"),
      default: D.maxConcurrentStreams,
      min: 1,
      max: 2 ** 32 - 1,
      help: "HTTP/2 calls per connection",
    },
    "no-fast-path": {
      type: "boolean",
      env: env("NO_FAST_PATH"),
      help: "serve unary gRPC and Connect with connect-node too",
    },
    "max-connections": {
      type: "int",
      env: env("MAX_CONNECTIONS"),
      default: D.maxConnections,
      max: 1_000_000,
      help: "open connections; at the cap the oldest idle one\nof the biggest client closes (0 = no cap)",
    },
    "max-connections-per-client": {
      type: "int",
      env: env("MAX_CONNECTIONS_PER_CLIENT"),
      default: D.maxConnectionsPerClient,
      max: 1_000_000,
      help: "open connections per client address (0 = no cap)",
    },
    "max-connection-buffer-bytes": {
      type: "int",
      env: env("MAX_CONNECTION_BUFFER_BYTES"),
      default: D.maxConnectionBufferBytes,
      max: 2 ** 40,
      help: "request + response bytes held for one connection;\npast it the connection is cut (0 = no limit)",
    },
    "max-buffer-bytes": {
      type: "int",
      env: env("MAX_BUFFER_BYTES"),
      default: D.maxBufferBytes,
      max: 2 ** 40,
      help: "the same over all connections; past it the\nconnection holding the most is cut (0 = no limit)",
    },
    "request-idle-timeout-ms": ms(
      "REQUEST_IDLE_TIMEOUT_MS",
      D.requestIdleTimeoutMs,
      "HTTP/2 request body stalled mid-message (0 = off)",
    ),
    orca: {
      type: "enum",
      env: env("ORCA"),
      values: ["off", "on-request", "always"],
      default: D.orca,
      placeholder: "mode",
      help: "ORCA load reports in each unary response's\nendpoint-load-metrics-bin trailer: off|on-request|always",
    },
    "orca-interval-ms": ms("ORCA_INTERVAL_MS", D.orcaIntervalMs, "ORCA sampling period", 10),
    "tls-cert": {
      type: "string",
      env: env("TLS_CERT"),
      placeholder: "file",
      help: "serve TLS with this PEM certificate (chain);\nneeds --tls-key (default: cleartext)",
    },
    "tls-key": {
      type: "string",
      env: env("TLS_KEY"),
      placeholder: "file",
      help: "the PEM private key of --tls-cert",
    },
    "tls-ca": {
      type: "string",
      env: env("TLS_CA"),
      placeholder: "file",
      help: "PEM CA certificates that client certificates\nmust chain to (for --tls-client-auth)",
    },
    "tls-client-auth": {
      type: "enum",
      env: env("TLS_CLIENT_AUTH"),
      values: ["none", "request", "require"] as const satisfies readonly ClientAuth[],
      default: "none",
      placeholder: "mode",
      help: "mutual TLS: none|request|require a client\ncertificate that verifies against --tls-ca",
    },
  } as const satisfies Record<string, FlagSpec>;
}

/** The flags {@link connectServerFlags} declares. */
export type ConnectServerFlags = ReturnType<typeof connectServerFlags>;

/** Every setting, each given its value: `tls` is undefined for cleartext. */
export type ConnectServerSettingsFromFlags = Required<Omit<ConnectServerSettings, "tls">> & {
  tls: ConnectServerTls | undefined;
};

/**
 * The settings the parsed {@link connectServerFlags} ask for. Reads the
 * --tls-* files; throws FlagError when one cannot be read, the certificate
 * and key do not make a TLS context, or the TLS flags do not go together.
 */
export function settingsFromFlags(v: FlagValues<ConnectServerFlags>): ConnectServerSettingsFromFlags {
  return {
    tls: tlsFromFlags(v),
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
    maxConnectionsPerClient: v["max-connections-per-client"],
    maxConnectionBufferBytes: v["max-connection-buffer-bytes"],
    maxBufferBytes: v["max-buffer-bytes"],
    requestIdleTimeoutMs: v["request-idle-timeout-ms"],
    fastPath: !v["no-fast-path"],
    orca: v.orca,
    orcaIntervalMs: v["orca-interval-ms"],
  };
}

/** The TLS the --tls-* flags ask for, files read and checked; undefined for cleartext. */
function tlsFromFlags(v: FlagValues<ConnectServerFlags>): ConnectServerTls | undefined {
  const certFile = v["tls-cert"] || undefined;
  const keyFile = v["tls-key"] || undefined;
  const caFile = v["tls-ca"] || undefined;
  const clientAuth = v["tls-client-auth"];
  if (certFile === undefined && keyFile === undefined) {
    if (caFile !== undefined || clientAuth !== "none") {
      throw new FlagError("--tls-ca and --tls-client-auth need TLS: give --tls-cert and --tls-key too");
    }
    return undefined;
  }
  if (certFile === undefined || keyFile === undefined) {
    throw new FlagError("--tls-cert and --tls-key go together: give both (or neither, for cleartext)");
  }
  if (clientAuth !== "none" && caFile === undefined) {
    throw new FlagError(
      `--tls-client-auth ${clientAuth} needs --tls-ca: the CA certificates client certificates must chain to`,
    );
  }
  const tls: ConnectServerTls = {
    cert: readPem("--tls-cert", certFile),
    key: readPem("--tls-key", keyFile),
    ...(caFile === undefined ? {} : { ca: readPem("--tls-ca", caFile) }),
    clientAuth,
  };
  try {
    tlsServerOptions(tls, D.detectTimeoutMs);
  } catch (err) {
    throw new FlagError(
      `--tls-cert ${certFile}, --tls-key ${keyFile}${caFile === undefined ? "" : `, --tls-ca ${caFile}`}: ${(err as Error).message.replace(/^tls: /, "")} (they must be PEM files, the key the certificate's)`,
    );
  }
  return tls;
}

/** A --tls-* file's contents; FlagError naming the flag and file when it cannot be read. */
function readPem(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : message;
    throw new FlagError(`${flag} ${file}: cannot read it (${why})`);
  }
}
