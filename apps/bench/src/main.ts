#!/usr/bin/env node
/**
 * `pnpm bench`: runs the tables `--tables` names (every table of
 * src/tables/index.ts by default), in that list's order, and writes their
 * reports (latest.{md,json,svg}) to `--out`, printing the Markdown.
 * `--profile` runs the CPU-profile investigation instead, `--connect-client`
 * the gRPC-against-Connect client investigation.
 */
import { FlagError, parseBenchFlags, USAGE } from "./flags.js";
import { runTables } from "./harness/run-tables.js";
import { runConnectClient } from "./investigations/connect-client/run.js";
import { runProfile } from "./investigations/profile/run.js";
import { TABLES } from "./tables/index.js";

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseBenchFlags>;
  try {
    parsed = parseBenchFlags(process.argv.slice(2));
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { config } = parsed;
  if (config.profile) return runProfile(config);
  if (config.connectClient) return runConnectClient(config);
  return runTables(
    TABLES.filter((t) => config.tables.includes(t.id)),
    config,
  );
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
