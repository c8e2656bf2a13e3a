import { createJsonLogger } from "@rngbalance/connect-server";
import type { Telemetry } from "@rngbalance/telemetry";
import { ConfigError, parseServerConfig, USAGE } from "./config.js";
import { type RngServer, startRngServer } from "./server.js";

/**
 * Runs `rng-server` as this process's program: what the `rng-server`
 * command (this package's bin, and the apps/server image's entry point)
 * does. It parses the flags over the RNG_* variables, prints the usage
 * (`--help`, exit 0; a bad flag or value, exit 2), installs the OpenTelemetry
 * SDK when `--metrics-addr` or an OTEL_* variable asks for it, and starts the
 * server.
 *
 * It owns the process: the SIGTERM and SIGINT handlers go in before the
 * server starts (so a signal sent as soon as the "listening" line appears is
 * never missed); the first signal drains, flushes telemetry and exits 0, a
 * second one exits 1 at once; an uncaught exception is logged and drains
 * too, then exits 1. It calls `process.exit` on every path that
 * ends the program, so it belongs in an entry point, not in a library or a
 * test (use {@link startRngServer} there).
 *
 * @param argv - the flags, without node and the script; default `process.argv.slice(2)`.
 * @param env - the environment the RNG_* and OTEL_* variables are read from;
 *   default `process.env` (the OpenTelemetry SDK itself reads `process.env`).
 * @returns the server, once it listens.
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<RngServer> {
  let parsed: ReturnType<typeof parseServerConfig>;
  try {
    parsed = parseServerConfig([...argv], env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`rng-server: ${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const { logLevel, metricsAddr, ...config } = parsed.config;
  const logger = createJsonLogger({ minLevel: logLevel });

  // The handlers go in before the server starts: the "listening" line can
  // reach a supervisor (or a test) that signals at once, before start-up returns.
  let starting: Promise<RngServer> | undefined;
  // The SDK, once installed (below); the drain flushes it.
  let telemetry: Telemetry | undefined;
  let signals = 0;
  let exitCode = 0;
  let draining = false;
  /** Drains once (flushing telemetry), then exits with `exitCode`. */
  const drainAndExit = () => {
    if (draining) return;
    draining = true;
    if (!starting) process.exit(exitCode);
    starting
      .then((server) => server.drain())
      // Metrics and spans of the last calls are flushed before exit.
      .then(() => telemetry?.shutdown())
      .then(
        () => process.exit(exitCode),
        (err: unknown) => {
          logger.log("error", "drain failed", { err });
          process.exit(1);
        },
      );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.log("warn", "second signal, exiting at once", { signal });
      process.exit(1);
    }
    logger.log("info", "signal received", { signal });
    drainAndExit();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // An exception that escaped every guard (each request's own is logged
  // and ends that request alone) is a bug whose damage is unknown. Rather
  // than die at once, taking every call in flight down with it, or go on
  // in an unknown state, the server logs it, reports NOT_SERVING, drains
  // (in-flight calls finish, bounded by --drain-timeout-ms) and exits 1,
  // for the supervisor (Kubernetes) to restart it.
  const onUncaught = (err: unknown, origin: string) => {
    logger.log("error", "uncaught exception: draining, then exiting 1", { origin, err });
    exitCode = 1;
    drainAndExit();
  };
  process.on("uncaughtException", onUncaught);

  // The SDK loads only when asked for: without it the server's instruments are no-ops.
  // It is installed before the server starts: the server looks for a MeterProvider then.
  if (metricsAddr !== undefined || Object.keys(env).some((k) => k.startsWith("OTEL_"))) {
    const { startTelemetry } = await import("@rngbalance/telemetry");
    try {
      telemetry = await startTelemetry({
        serviceName: "rng-server",
        metricsAddr,
        warn: (message) => logger.log("warn", message),
      });
    } catch (err) {
      logger.log("error", "cannot serve metrics", { err, metricsAddr, hint: "check --metrics-addr" });
      process.exit(1);
    }
    if (telemetry.metricsAddress) {
      logger.log("info", "metrics", { address: telemetry.metricsAddress, path: "/metrics" });
    }
  }

  try {
    starting = startRngServer({ ...config, logger });
    return await starting;
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
}
