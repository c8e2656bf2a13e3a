import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** What the bench's command line asks for. */
export interface BenchConfig {
  readonly quick: boolean;
  readonly repeats: number;
  readonly concurrencies: readonly number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Where latest.{md,json,svg} go. */
  readonly outDir: string;
  /** Run the pick and memory microbenchmarks. */
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
  /** Which tables to measure: the clients (3 servers each) and/or the servers (one each, loaded by the pool). */
  readonly tables: { readonly clients: boolean; readonly servers: boolean };
}

/** bench/results at the repository root. */
export const DEFAULT_OUT_DIR = fileURLToPath(new URL("../../../bench/results/", import.meta.url));

export const USAGE = `Usage: pnpm bench [-- flags]      (or: node apps/bench/dist/main.js [flags])

Unary /rng.Rng/Rng calls, closed loop, at several calls in flight, for:
  pool-rr        our pool, round_robin, gRPC protocol, 3 endpoints (dns:// via the embedded DNS)
  pool-lr        our pool, least_request
  pool-connect   our pool, Connect protocol
  stock-connect  one stock connect-node createGrpcTransport to one server
  grpc-js        @grpc/grpc-js, ipv4: target of the 3 servers, round_robin
against 3 rng-server processes and 3 grpc-js server processes on 127.0.0.2-4.
Then the server table: rng-server, rng-server without its fast path, stock
connect-node, a grpc-js server and a bare node:http2 floor, one process each,
each loaded alone by the pool: calls/s, server CPU per call, latency, RSS.
Every client runs in its own process; cells are interleaved.
Then: ns per pick of the pool's pickers, and memory per idle endpoint.

Flags:
  --repeats <n>        repeats of every cell (default 3)
  --concurrency <list> calls in flight, comma-separated (default 1,16,64)
  --duration-ms <n>    measured time per cell (default 1200)
  --warmup-ms <n>      warm-up per cell, not measured (default 300)
  --max-other-load <cores>
                       re-run a cell (twice at most, a quarter of the cells at most) when
                       other processes used more CPU than this during it and the machine is
                       quiet again (default 0.25; "off")
  --quick              CI smoke: 1 repeat, 500 ms cells, concurrency 1,16, small microbenchmarks
  --tables <list>      clients,servers (default both): which tables to measure
  --no-micro           skip the pick and memory microbenchmarks
  --memory-endpoints <n> idle endpoints for the memory microbenchmark (default 1000)
  --out <dir>          where latest.md, latest.json and latest.svg go (default bench/results)
  --profile            instead: run pool-rr, pool-connect, stock-connect, grpc-js and a raw
                       node:http2 gRPC floor at 64 in flight under node --cpu-prof, and print
                       the top functions by self time in the measured window (profile.md)
  -h, --help           print this help

Exit status: 0 when every cell ran without a failed call, 1 otherwise, 2 for a bad flag.`;

/** A bad flag; the message says which. */
export class FlagError extends Error {
  override readonly name = "FlagError";
}

/** Parses the bench's flags. @throws FlagError */
export function parseBenchFlags(
  argv: readonly string[],
): { help: true } | { help: false; config: BenchConfig } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        repeats: { type: "string" },
        concurrency: { type: "string" },
        "duration-ms": { type: "string" },
        "warmup-ms": { type: "string" },
        quick: { type: "boolean" },
        "no-micro": { type: "boolean" },
        "memory-endpoints": { type: "string" },
        "max-other-load": { type: "string" },
        out: { type: "string" },
        profile: { type: "boolean" },
        tables: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  if (values.help) return { help: true };
  const quick = values.quick === true;
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = values[name];
    if (typeof v !== "string") return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new FlagError(`--${name} must be a whole number from ${min} to ${max}, got "${v}"`);
    }
    return n;
  };
  let concurrencies = quick ? [1, 16] : [1, 16, 64];
  if (typeof values.concurrency === "string") {
    concurrencies = values.concurrency.split(",").map((s) => Number(s.trim()));
    if (concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 4096)) {
      throw new FlagError(`--concurrency must be whole numbers from 1 to 4096, got "${values.concurrency}"`);
    }
  }
  let maxOtherLoad = 0.25;
  const mol = values["max-other-load"];
  if (typeof mol === "string") {
    maxOtherLoad = mol === "off" ? Number.POSITIVE_INFINITY : Number(mol);
    if (!(maxOtherLoad >= 0))
      throw new FlagError(`--max-other-load must be a number of cores or "off", got "${mol}"`);
  }
  let tables = { clients: true, servers: true };
  if (typeof values.tables === "string") {
    const names = values.tables.split(",").map((t) => t.trim());
    if (names.length === 0 || names.some((t) => t !== "clients" && t !== "servers")) {
      throw new FlagError(`--tables must be clients, servers or both, got "${values.tables}"`);
    }
    tables = { clients: names.includes("clients"), servers: names.includes("servers") };
  }
  return {
    help: false,
    config: {
      quick,
      repeats: int("repeats", quick ? 1 : 3, 1, 100),
      concurrencies,
      warmupMs: int("warmup-ms", quick ? 200 : 300, 0, 60_000),
      durationMs: int("duration-ms", quick ? 500 : 1200, 50, 600_000),
      outDir: typeof values.out === "string" ? values.out : DEFAULT_OUT_DIR,
      micro: values["no-micro"] !== true,
      memoryEndpoints: int("memory-endpoints", quick ? 200 : 1000, 1, 5000),
      maxOtherLoad,
      profile: values.profile === true,
      tables,
    },
  };
}
