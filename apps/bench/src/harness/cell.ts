/**
 * A cell: one client at one concurrency against one server group, in a
 * child of its own (client.child.ts). What the parent asks for, what the
 * child reports back, and the clients and servers there are.
 */

/** The legacy method, as grpc-js sends it. */
export const RNG_PATH = "/rng.Rng/Rng";

/** The clients compared. */
export type ClientKind =
  /** Our pool, round_robin, gRPC protocol. */
  | "pool-rr"
  /** Our pool, least_request, gRPC protocol. */
  | "pool-lr"
  /** Our pool, round_robin, Connect protocol. */
  | "pool-connect"
  /** Our pool, round_robin, Connect protocol with JSON (`useBinaryFormat: false`). */
  | "pool-connect-json"
  /** pool-rr with `telemetry: false`: not even the API's no-op checks (today's pool before issue #14). */
  | "pool-otel-off"
  /** pool-rr with the OpenTelemetry SDK: a MeterProvider with the Prometheus reader, scraped every second. */
  | "pool-metrics"
  /** pool-rr with tracing on: a TracerProvider, W3C propagation, every span exported (to a discarding exporter). */
  | "pool-tracing"
  /** One stock connect-node `createGrpcTransport` to one server. */
  | "stock-connect"
  /** `@grpc/grpc-js` with an `ipv4:` target of the 3 servers and round_robin. */
  | "grpc-js"
  /**
   * Profile mode only: a floor, not a product. gRPC unary written straight
   * on node:http2 (one session per server, rotation, no deadline, no
   * cancellation, no interceptors): what a pool fast path could cost.
   */
  | "raw-http2"
  /**
   * Server table only: connect-es `createConnectTransport` over HTTP/1.1
   * (binary, Node's keep-alive agent: one connection per call in flight) to
   * one server. The pool speaks HTTP/2 only.
   */
  | "connect-h1";

export const CLIENT_KINDS: readonly ClientKind[] = [
  "pool-rr",
  "pool-lr",
  "pool-connect",
  "pool-connect-json",
  "pool-otel-off",
  "pool-metrics",
  "pool-tracing",
  "stock-connect",
  "grpc-js",
  "raw-http2",
  "connect-h1",
];

/** What each client is, in words (for the report). */
export const CLIENT_DESCRIPTIONS: Readonly<Record<ClientKind, string>> = {
  "pool-rr": "createPoolTransport, round_robin, gRPC protocol, 3 endpoints via the embedded DNS (dns://)",
  "pool-lr": "createPoolTransport, least_request, gRPC protocol, 3 endpoints via the embedded DNS (dns://)",
  "pool-connect":
    "createPoolTransport, round_robin, Connect protocol (binary), 3 endpoints via the embedded DNS (dns://)",
  "pool-connect-json":
    "createPoolTransport, round_robin, Connect protocol with JSON (useBinaryFormat: false), 3 endpoints via the embedded DNS (dns://)",
  "pool-otel-off":
    "pool-rr with telemetry: false (no @opentelemetry/api call on the call path: the pool before issue #14)",
  "pool-metrics":
    "pool-rr with the OpenTelemetry SDK installed first (@rngbalance/telemetry: MeterProvider + Prometheus reader, /metrics scraped every second)",
  "pool-tracing":
    "pool-rr with a TracerProvider registered (W3C propagation, always sampled, BatchSpanProcessor to an exporter that discards): a call span and an attempt span per call, traceparent sent",
  "stock-connect": "one stock connect-node createGrpcTransport to the first server (one HTTP/2 connection)",
  "grpc-js":
    "@grpc/grpc-js Client, target ipv4:127.0.0.2:P,127.0.0.3:P,127.0.0.4:P, round_robin service config, makeUnaryRequest with protobuf-es toBinary/fromBinary",
  "raw-http2":
    "(profile mode only) gRPC unary written straight on node:http2, one session per server, rotation, protobuf-es toBinary/fromBinary; no deadlines, cancellation or interceptors: a floor for a pool fast path",
  "connect-h1":
    "(server table only) connect-es createConnectTransport, httpVersion 1.1, binary, to the first server: Node's keep-alive agent, one connection per call in flight",
};

/** The two sets of servers. */
export type ServerSet =
  /** 3 rng-server processes (connect-node server), LocalFleet. */
  | "rng-server"
  /** 3 grpc-js server processes written in the bench. */
  | "grpc-js-server";

export const SERVER_SETS: readonly ServerSet[] = ["rng-server", "grpc-js-server"];

/** Which clients run against which servers (grpc-js servers speak only gRPC). */
export const CLIENTS_PER_SET: Readonly<Record<ServerSet, readonly ClientKind[]>> = {
  "rng-server": [
    "pool-rr",
    "stock-connect",
    "grpc-js",
    "pool-lr",
    "pool-connect",
    "pool-connect-json",
    // pool-otel-off and pool-metrics: measured side by side in one process by the telemetry table.
    "pool-tracing",
  ],
  "grpc-js-server": ["pool-rr", "stock-connect", "grpc-js"],
};

/**
 * The servers of the server table: one process each, loaded by the pool
 * (pool-rr, health checks off) from its own process.
 */
export type ServerKind =
  /** `rng-server` itself (its unary gRPC fast path on, the default). */
  | "rng-server"
  /** `rng-server --metrics-addr`: the OpenTelemetry SDK's metrics, /metrics scraped every second. */
  | "rng-server-metrics"
  /** The Rng server with `fastPath: false`: every call through connect-node. */
  | "rng-server-no-fast-path"
  /** Stock connect-node: connectNodeAdapter on http2.createServer, /rng.Rng/Rng only. */
  | "stock-connect"
  /** The grpc-js server of the client table (src/harness/grpc-server.child.ts). */
  | "grpc-js"
  /** The floor: node:http2 writing fixed bytes once the request has ended. */
  | "bare-http2";

export const SERVER_KINDS: readonly ServerKind[] = [
  "rng-server",
  "rng-server-metrics",
  "rng-server-no-fast-path",
  "stock-connect",
  "grpc-js",
  "bare-http2",
];

/** What each server of the server table is, in words (for the report). */
export const SERVER_DESCRIPTIONS: Readonly<Record<ServerKind, string>> = {
  "rng-server":
    "the `rng-server` command (packages/rng-server, as apps/server ships it): dual-protocol listener, Rng, RngService, health and reflection; unary gRPC on its fast path (packages/connect-server/src/fast)",
  "rng-server-metrics":
    "the same command with `--metrics-addr`: the OpenTelemetry SDK (MeterProvider, Prometheus reader) records gRFC A66's server metrics, and the bench scrapes `/metrics` every second, as Prometheus would",
  "rng-server-no-fast-path":
    "the same server in-process (`startRngServer({ fastPath: false })`): every call through connect-node",
  "stock-connect":
    "stock connect-node: `connectNodeAdapter` on `http2.createServer`, `/rng.Rng/Rng` only (src/harness/server.child.ts)",
  "grpc-js":
    "@grpc/grpc-js server, `/rng.Rng/Rng` with protobuf-es toBinary/fromBinary (src/harness/grpc-server.child.ts)",
  "bare-http2":
    "the floor, not a product: `node:http2` answering every stream, once its request has ended, with fixed bytes (headers, one RN message, grpc-status 0)",
};

/** Loads of the server table other than the pool's gRPC calls: what each protocol costs the server. */
export type ServerLoad =
  /** The pool, Connect protocol, binary (pool-connect), over HTTP/2. */
  | "connect"
  /** The pool, Connect protocol, JSON (pool-connect-json), over HTTP/2. */
  | "connect-json"
  /** connect-es over HTTP/1.1, Connect protocol, binary (connect-h1). */
  | "connect-h1";

/** A row of the server table: a server under the pool's gRPC load, or `server+load`. */
export type ServerRow = ServerKind | `${ServerKind}+${ServerLoad}`;

/** The server table's rows in order: which server process, loaded by which client. */
export const SERVER_ROWS: readonly {
  readonly row: ServerRow;
  readonly server: ServerKind;
  readonly client: ClientKind;
}[] = [
  ...SERVER_KINDS.map((server) => ({ row: server, server, client: "pool-rr" as ClientKind })),
  { row: "rng-server+connect", server: "rng-server", client: "pool-connect" },
  { row: "rng-server+connect-json", server: "rng-server", client: "pool-connect-json" },
  { row: "rng-server+connect-h1", server: "rng-server", client: "connect-h1" },
  { row: "rng-server-no-fast-path+connect-h1", server: "rng-server-no-fast-path", client: "connect-h1" },
];

/** The server table's rows beyond one per server, in words (for the report). */
export const SERVER_ROW_DESCRIPTIONS: Readonly<Partial<Record<ServerRow, string>>> = {
  "rng-server+connect":
    "rng-server loaded by pool-connect: Connect protocol, binary, over HTTP/2 (its Connect fast path)",
  "rng-server+connect-json":
    "rng-server loaded by pool-connect-json: Connect protocol, JSON, over HTTP/2 (its Connect fast path)",
  "rng-server+connect-h1":
    "rng-server loaded by connect-es over HTTP/1.1 (Connect binary, keep-alive, one connection per call in flight; its HTTP/1.1 Connect fast path)",
  "rng-server-no-fast-path+connect-h1":
    "rng-server-no-fast-path under the same HTTP/1.1 Connect load: connect-node's HTTP/1.1 path",
};

/** One cell, as the parent sends it to the child (its JSON argument). */
export interface CellConfig {
  readonly client: ClientKind;
  /** The server set (client table) or the server table's row (one server, one load). */
  readonly serverSet: ServerSet | ServerRow;
  /** Calls in flight (closed loop: this many workers). */
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The pool's target (dns://...). */
  readonly poolTarget: string;
  /** "host:port" of each server, in order. */
  readonly addresses: readonly string[];
  /** Pool clients: health checks (one Health/Watch stream per endpoint). Default on. */
  readonly healthCheck?: boolean;
}

/** What a child reports for one cell. */
export interface CellResult {
  readonly client: ClientKind;
  readonly serverSet: ServerSet | ServerRow;
  readonly concurrency: number;
  /** Measured window, ms. */
  readonly elapsedMs: number;
  /** Successful calls in the window. */
  readonly calls: number;
  readonly callsPerSecond: number;
  /** Latency percentiles of every call in the window, µs (histogram, ~1 % precision). */
  readonly p50Us: number;
  readonly p99Us: number;
  /** Client process CPU (user + system) per successful call, µs. */
  readonly cpuUsPerCall: number;
  /** Client process RSS at the end of the window, MB. */
  readonly rssMb: number;
  /** Failed calls in the window (warm-up included). */
  readonly errors: number;
  /** The first error, if any. */
  readonly firstError: string | undefined;
  /** Pool clients: calls per endpoint during the whole run (warm-up included). */
  readonly spread: readonly number[] | undefined;
  /** The measured window on the monotonic clock (process.hrtime), µs: V8 CPU profiles use the same clock. */
  readonly windowUs: readonly [number, number];
  /** Server processes' CPU (user + system) per call during the window, µs (parent-measured). */
  serverCpuUsPerCall?: number;
  /** Server table: the server process's RSS at the end of the window, MB (parent-measured). */
  serverRssMb?: number;
  /**
   * CPU used during the window by everything else on the machine (other
   * processes, not the client, not the servers), in cores (parent-measured):
   * a noisy neighbour shows here.
   */
  otherLoadCores?: number;
}

/** One cell of one repeat. */
export interface RepeatCell extends CellResult {
  readonly repeat: number;
  /** Set when the child process itself failed; the cell then counts as one error. */
  readonly failure?: string;
  /** Runs of this cell (more than 1 when other load made it run again; the quietest is kept). */
  readonly attempts?: number;
}
