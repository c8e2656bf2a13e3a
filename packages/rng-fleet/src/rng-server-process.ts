import { fileURLToPath } from "node:url";
import { type JsonLogServerProcess, spawnJsonLogServer } from "@rngbalance/testkit";

/** Options of {@link spawnRngServer}. */
export interface SpawnRngServerOptions {
  /**
   * The entry point to run with node: a script that runs the `rng-server`
   * program, such as an app's `dist/main.js`. Default {@link RNG_SERVER_MAIN}.
   */
  main?: string;
  /** Listen address (a "pod IP" such as 127.0.0.2). Default "127.0.0.1". */
  host?: string;
  /** Listen port; 0 picks a free one. Default 0. */
  port?: number;
  /** More `rng-server` flags, e.g. ["--drain-timeout-ms", "2000"]. */
  args?: string[];
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** How long to wait for the "listening" log line. Default 10000. */
  startTimeoutMs?: number;
}

/** An `rng-server` child process that is listening. */
export interface RngServerProcess extends JsonLogServerProcess {
  /** The number every call to this instance returns. */
  readonly rn: bigint;
}

/**
 * Path of `@rngbalance/rng-server`'s built `main` entry (its `dist/main.js`):
 * the `rng-server` program, which the fixtures run by default.
 */
export const RNG_SERVER_MAIN = fileURLToPath(import.meta.resolve("@rngbalance/rng-server/main"));

/**
 * Starts `rng-server` (or `options.main`) as a real child process and resolves once it logs
 * "listening". Rejects with its stderr if it exits or stays silent first.
 */
export async function spawnRngServer(options: SpawnRngServerOptions = {}): Promise<RngServerProcess> {
  const host = options.host ?? "127.0.0.1";
  const server = await spawnJsonLogServer({
    main: options.main ?? RNG_SERVER_MAIN,
    name: "rng-server",
    args: ["--host", host, "--port", String(options.port ?? 0), ...(options.args ?? [])],
    ...(options.env ? { env: options.env } : {}),
    ...(options.startTimeoutMs ? { startTimeoutMs: options.startTimeoutMs } : {}),
  });
  return Object.assign(server, { rn: BigInt(String(server.ready.rn)) });
}
