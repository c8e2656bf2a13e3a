#!/usr/bin/env node
import { createJsonLogger } from "@rngbalance/connect-server";
import { ConfigError, parseServerConfig, USAGE } from "./config.js";
import { startRngServer } from "./server.js";

let parsed: ReturnType<typeof parseServerConfig>;
try {
  parsed = parseServerConfig(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`rng-server: ${err.message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (parsed.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const { logLevel, ...config } = parsed.config;
const logger = createJsonLogger({ minLevel: logLevel });

try {
  const server = await startRngServer({ ...config, logger });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.log("warn", "second signal, exiting at once", { signal });
      process.exit(1);
    }
    logger.log("info", "signal received", { signal });
    server.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.log("error", "drain failed", { err });
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  logger.log("error", "cannot listen", {
    err,
    hint:
      e.code === "EADDRINUSE"
        ? "another process uses this port: pick another with --port"
        : e.code === "EADDRNOTAVAIL"
          ? "this machine has no such address: check --host"
          : undefined,
  });
  process.exit(1);
}
