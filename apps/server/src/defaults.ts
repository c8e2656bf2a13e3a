/**
 * Every default of the server, in one place: `startRngServer` and the
 * command line (flags, environment variables, `--help`) read them from here.
 */
export const SERVER_DEFAULTS = {
  host: "0.0.0.0",
  port: 8081,
  readMaxBytes: 4 * 1024 * 1024,
  jsonReadMaxBytes: 1024 * 1024,
  jsonMaxDepth: 100,
  drainTimeoutMs: 10_000,
  shutdownDelayMs: 0,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 10_000,
  detectTimeoutMs: 10_000,
  http1HeadersTimeoutMs: 10_000,
  http1RequestTimeoutMs: 60_000,
  http1KeepaliveTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  keepaliveMinTimeMs: 300_000,
  keepalivePermitWithoutCalls: false,
  maxConcurrentStreams: 250,
  maxConnections: 0,
  fault: "none",
} as const;
