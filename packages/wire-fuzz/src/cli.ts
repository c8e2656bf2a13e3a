#!/usr/bin/env node
/**
 * `pnpm fuzz`: runs the wire fuzzer against a real rng-server process.
 *
 *   pnpm fuzz                        one fresh seed
 *   pnpm fuzz --seconds 300          fresh seeds for 5 minutes
 *   pnpm fuzz --seed S [--path P]    replay a failure report's seed (and counterexample path)
 *
 * Other flags: --runs N (runs per seed, default 25), --seed-time-limit S
 * (seconds for one seed, shrinking included, default 120), --keep-going
 * (don't stop at the first failing seed), --main FILE (the server entry
 * point to run, default rng-server's). Exits 1 when a seed failed.
 */
import { parseArgs } from "node:util";
import { RNG_SERVER_MAIN, spawnRngServer } from "@rngbalance/rng-fleet";
import { inspectOnDemandEnv } from "@rngbalance/testkit";
import { formatSummary, runFuzz } from "./runner.js";

const USAGE = `usage: pnpm fuzz [--seconds N | --seed S [--path P]] [--runs N] [--seed-time-limit S] [--keep-going] [--main FILE]`;

function main(): Promise<number> | number {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse().values;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const num = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number: ${v}`);
    return n;
  };
  const seed = num("seed", values.seed);
  const main = values.main ?? RNG_SERVER_MAIN;
  return runFuzz({
    // SIGUSR1 may open the server's inspector, on a free port, for a full GC (gcThroughInspector).
    spawn: () => spawnRngServer({ main, env: inspectOnDemandEnv() }),
    gcThroughInspector: true,
    ...(seed !== undefined ? { replay: { seed, ...(values.path ? { path: values.path } : {}) } } : {}),
    ...(values.seconds !== undefined ? { seconds: num("seconds", values.seconds) } : {}),
    ...(values.runs !== undefined ? { runsPerSeed: num("runs", values.runs) } : {}),
    ...(values["seed-time-limit"] !== undefined
      ? { seedTimeLimitMs: (num("seed-time-limit", values["seed-time-limit"]) ?? 120) * 1000 }
      : {}),
    stopOnFailure: !values["keep-going"],
    log: (line) => console.log(line),
  }).then((summary) => {
    console.log(formatSummary(summary));
    return summary.failures.length > 0 ? 1 : 0;
  });
}

function parse() {
  return parseArgs({
    options: {
      seconds: { type: "string" },
      seed: { type: "string" },
      path: { type: "string" },
      runs: { type: "string" },
      "seed-time-limit": { type: "string" },
      "keep-going": { type: "boolean" },
      main: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
}

Promise.resolve()
  .then(main)
  .then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(2);
    },
  );
