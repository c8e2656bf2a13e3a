/**
 * A client under test: which library, and how it is set up. The scenario
 * runner starts each in a child process of its own (see driver-child.ts),
 * so a client that stalls its event loop cannot stall the runner.
 */
export interface ClientDriver {
  /** Its column label, e.g. "pool" or "grpc-js keepalive". */
  readonly name: string;
  /**
   * "pool": `@rngbalance/dns-pool`'s transport with default options
   * (round_robin, lazy connect, no deadline) plus the fields below;
   * "grpc-js": `@grpc/grpc-js` with a `dns://` target and round_robin.
   */
  readonly client: "pool" | "grpc-js";
  /** A deadline for every call, in milliseconds. Default: none. */
  readonly deadlineMs?: number;
  /**
   * HTTP/2 keepalive: a PING after `timeMs` without reads, the connection
   * dead if it is not answered within `timeoutMs`. Default: off (both
   * clients' default).
   */
  readonly keepalive?: { readonly timeMs: number; readonly timeoutMs: number };
  /** The pool's balancing policy (pool drivers only). Default: the pool's default, round_robin. */
  readonly policy?: "round_robin" | "least_request" | "peak_ewma";
}

/** The drivers `rng-faults` knows by name. */
export const DRIVERS: Readonly<Record<string, ClientDriver>> = {
  pool: { name: "pool", client: "pool" },
  "pool-deadline": { name: "pool 2s deadline", client: "pool", deadlineMs: 2000 },
  "pool-least-request": { name: "pool least_request", client: "pool", policy: "least_request" },
  "pool-peak-ewma": { name: "pool peak_ewma", client: "pool", policy: "peak_ewma" },
  "pool-keepalive": { name: "pool keepalive", client: "pool", keepalive: { timeMs: 2000, timeoutMs: 1000 } },
  "pool-keepalive-deadline": {
    name: "pool keepalive 2s deadline",
    client: "pool",
    deadlineMs: 2000,
    keepalive: { timeMs: 2000, timeoutMs: 1000 },
  },
  "grpc-js": { name: "grpc-js", client: "grpc-js" },
  "grpc-js-keepalive": {
    name: "grpc-js keepalive",
    client: "grpc-js",
    keepalive: { timeMs: 2000, timeoutMs: 1000 },
  },
};

/** The runner's messages to a driver child. */
export type ToDriver =
  | {
      readonly type: "init";
      readonly driver: ClientDriver;
      readonly target: string;
      /** Every pod: its address and the number it answers with (as a decimal string). */
      readonly pods: readonly { readonly address: string; readonly rn: string }[];
      readonly inFlight: number;
      readonly readyTimeoutMs: number;
    }
  | { readonly type: "start" }
  | { readonly type: "stop"; readonly drainMs: number };

/** One call, as a driver child records it. Times in ms since the epoch (fractional). */
export interface CallRecords {
  readonly start: number[];
  /** NaN for a call still running when the driver stopped. */
  readonly duration: number[];
  /** gRPC status code; 0 for success. */
  readonly code: number[];
  /** The pod that answered (index into the pods), -1 when unknown (a failed call). */
  readonly pod: number[];
}

/** A driver child's messages to the runner. */
export type FromDriver =
  | { readonly type: "ready" }
  | { readonly type: "beat"; readonly at: number; readonly calls: number }
  | {
      readonly type: "done";
      readonly calls: CallRecords;
      /** Per pod: the times (ms since the epoch) at which the client's count of calls started on it grew. */
      readonly picks: readonly number[][];
    }
  | { readonly type: "error"; readonly message: string };
