import { FlagError, type FlagSpec, parseFlags, renderFlagTable } from "@rngbalance/cli";
import { CLIENT_KINDS, type ClientKind } from "./harness/cell.js";
import type { BenchConfig } from "./harness/config.js";
import { DEFAULT_OUT_DIR } from "./harness/report.js";
import { TABLES } from "./tables/index.js";

export type { BenchConfig };
export { DEFAULT_OUT_DIR, FlagError };

/** Defaults that --quick changes: [full, quick]. */
const BY_MODE = {
  repeats: [3, 1],
  "warmup-ms": [300, 200],
  "duration-ms": [1200, 500],
  "memory-endpoints": [1000, 200],
} as const;

/** The tables `--tables` can ask for. */
const TABLE_IDS = TABLES.map((t) => t.id);

/** A comma-separated list of whole numbers from 1 to 4096, e.g. "1,16,64". */
function concurrencyList(text: string): string | undefined {
  const values = text.split(",").map((v) => Number(v.trim()));
  return values.some((c) => !Number.isInteger(c) || c < 1 || c > 4096)
    ? `must be whole numbers from 1 to 4096, comma-separated; got "${text}"`
    : undefined;
}

/** The bench's flags, from which the parser and `--help` both come. */
export const BENCH_FLAGS = {
  repeats: { type: "int", min: 1, max: 100, help: "repeats of every cell (3; 1 with --quick)" },
  concurrency: {
    type: "string",
    placeholder: "list",
    validate: concurrencyList,
    help: "calls in flight, comma-separated (1,16,64; 1,16 with --quick)",
  },
  "duration-ms": {
    type: "int",
    min: 50,
    max: 600_000,
    help: "measured time per cell (1200; 500 with --quick)",
  },
  "warmup-ms": { type: "int", max: 60_000, help: "warm-up per cell, not measured (300; 200 with --quick)" },
  "max-other-load": {
    type: "string",
    default: "0.25",
    placeholder: "cores",
    validate: (v: string) =>
      v === "off" || Number(v) >= 0 ? undefined : `must be a number of cores or "off"; got "${v}"`,
    help: [
      "re-run a cell (twice at most, a quarter of the cells at most) when",
      "other processes used more CPU than this during it and the machine is",
      'quiet again ("off" never)',
    ].join("\n"),
  },
  quick: {
    type: "boolean",
    help: "CI smoke: 1 repeat, 500 ms cells, concurrency 1,16, small microbenchmarks",
  },
  tables: {
    type: "string",
    default: TABLES.filter((t) => t.inDefaultRun)
      .map((t) => t.id)
      .join(","),
    placeholder: "list",
    validate: (v: string) =>
      v.split(",").every((t) => TABLE_IDS.includes(t.trim()))
        ? undefined
        : `must be some of ${TABLE_IDS.join(", ")}; got "${v}"`,
    help: "which tables to measure (they run in the order of src/tables/index.ts)",
  },
  clients: {
    type: "string",
    placeholder: "list",
    validate: (v: string) => {
      const bad = v.split(",").filter((c) => !CLIENT_KINDS.includes(c.trim() as ClientKind));
      return bad.length === 0
        ? undefined
        : `unknown client ${bad.join(", ")}; known: ${CLIENT_KINDS.join(", ")}`;
    },
    help: "only these clients in the client table or --profile, comma-separated (e.g. pool-rr,pool-metrics)",
  },
  "no-micro": {
    type: "boolean",
    help: "skip the microbenchmarks (the micro table, and the telemetry table's in-process work per call)",
  },
  "memory-endpoints": {
    type: "int",
    min: 1,
    max: 5000,
    help: "idle endpoints for the memory microbenchmark (1000; 200 with --quick)",
  },
  out: {
    type: "string",
    default: "bench/results",
    placeholder: "dir",
    help: "where latest.md, latest.json and latest.svg go",
  },
  profile: {
    type: "boolean",
    help: [
      "instead: run pool-rr, pool-connect, stock-connect, grpc-js and a raw",
      "node:http2 gRPC floor at 64 in flight under node --cpu-prof, and print",
      "the top functions by self time in the measured window (profile.md)",
    ].join("\n"),
  },
  "connect-client": {
    type: "boolean",
    help: [
      "instead: the pool's client CPU per call over gRPC, Connect binary,",
      "Connect JSON and Connect through connect-node, against a floor server",
      "that answers with fixed bytes, at the last --concurrency (connect-client.md)",
    ].join("\n"),
  },
} as const satisfies Record<string, FlagSpec>;

/** Usage text of `pnpm bench --help`. */
export const USAGE = `Usage: pnpm bench [-- flags]      (or: node apps/bench/dist/main.js [flags])

Unary /rng.Rng/Rng calls, closed loop, at several calls in flight, for:
  pool-rr        our pool, round_robin, gRPC protocol, 3 endpoints (dns:// via the embedded DNS)
  pool-lr        our pool, least_request
  pool-connect   our pool, Connect protocol
  pool-connect-json  our pool, Connect protocol with JSON
  stock-connect  one stock connect-node createGrpcTransport to one server
  grpc-js        @grpc/grpc-js, ipv4: target of the 3 servers, round_robin
against 3 rng-server processes and 3 grpc-js server processes on 127.0.0.2-4.
Then the server table: rng-server, rng-server without its fast path, stock
connect-node, a grpc-js server and a bare node:http2 floor, one process each,
each loaded alone by the pool: calls/s, server CPU per call, latency, RSS.
Every client runs in its own process; cells are interleaved.
Then: ns per pick of the pool's pickers, and memory per idle endpoint.

Tables (--tables), in the order they run:
${TABLES.map((t) => `  ${t.id.padEnd(13)}  ${t.title}${t.inDefaultRun ? "" : " (only when asked for)"}`).join("\n")}

Flags:
${renderFlagTable(BENCH_FLAGS, { noDefault: "per --quick" })}

Exit status: 0 when every cell ran without a failed call, 1 otherwise, 2 for a bad flag.`;

/** Parses the bench's flags. @throws FlagError */
export function parseBenchFlags(
  argv: readonly string[],
): { help: true } | { help: false; config: BenchConfig } {
  const parsed = parseFlags(BENCH_FLAGS, argv);
  if (parsed.help) return { help: true };
  const v = parsed.values;
  const quick = v.quick;
  const pick = (name: keyof typeof BY_MODE) => v[name] ?? BY_MODE[name][quick ? 1 : 0];
  const names = v.tables.split(",").map((t) => t.trim());
  return {
    help: false,
    config: {
      quick,
      repeats: pick("repeats"),
      concurrencies:
        v.concurrency?.split(",").map((c) => Number(c.trim())) ?? (quick ? [1, 16] : [1, 16, 64]),
      warmupMs: pick("warmup-ms"),
      durationMs: pick("duration-ms"),
      // The default names the repository's folder, wherever the bench is started from.
      outDir: v.out === BENCH_FLAGS.out.default ? DEFAULT_OUT_DIR : v.out,
      micro: !v["no-micro"],
      memoryEndpoints: pick("memory-endpoints"),
      maxOtherLoad: v["max-other-load"] === "off" ? Number.POSITIVE_INFINITY : Number(v["max-other-load"]),
      profile: v.profile,
      connectClient: v["connect-client"],
      tables: TABLE_IDS.filter((id) => names.includes(id) && !(id === "micro" && v["no-micro"])),
      clients: v.clients?.split(",").map((c) => c.trim() as ClientKind),
    },
  };
}
