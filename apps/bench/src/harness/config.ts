/** What the bench's command line resolves to (flags.ts parses it). */
import type { ClientKind } from "./cell.js";

/** What the bench's command line asks for. */
export interface BenchConfig {
  readonly quick: boolean;
  readonly repeats: number;
  readonly concurrencies: readonly number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Where latest.{md,json,svg} go. */
  readonly outDir: string;
  /** Run the microbenchmarks: the micro table, and the telemetry table's in-process part. */
  readonly micro: boolean;
  /** Idle endpoints for the memory microbenchmark. */
  readonly memoryEndpoints: number;
  /**
   * A cell during which other processes used more than this many cores is
   * run again if the machine is quiet again (at most twice, and for at most
   * a quarter of the cells); the quietest run is kept. Infinity turns it off.
   */
  readonly maxOtherLoad: number;
  /** Instead of the bench: CPU-profile one cell per client and summarise. */
  readonly profile: boolean;
  /** Instead of the bench: the pool's client CPU per call, gRPC against Connect, with a floor server. */
  readonly connectClient: boolean;
  /** The ids of the tables to measure (src/tables/index.ts), `--tables` without "micro" when `--no-micro`. */
  readonly tables: readonly string[];
  /** The client table's clients; undefined: every client. */
  readonly clients: readonly ClientKind[] | undefined;
}
