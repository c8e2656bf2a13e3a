#!/usr/bin/env node
import { setMaxListeners } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import type { Telemetry } from "@rngbalance/telemetry";
import { type ClientConfig, FlagError, HASH_KEY_HEADER, parseFlags, USAGE } from "./flags.js";
import { createRngCaller, formatCallJson, formatCallLine, runLoop, waitUntilSettled } from "./run.js";
import { formatSummary, formatSummaryJson, SummaryCollector } from "./summary.js";

function fail(message: string): never {
  process.stderr.write(`rng-client: ${message}\nRun "rng-client --help" for every flag and its default.\n`);
  process.exit(2);
}

let parsed: ReturnType<typeof parseFlags>;
try {
  parsed = parseFlags(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof FlagError)) throw err;
  fail(err.message);
}
if (parsed.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const config = parsed.config;

// The SDK loads only when asked for (--metrics-addr or an OTEL_* variable):
// without it the pool's instruments are no-ops and cost nothing.
const wantsTelemetry =
  config.metricsAddr !== undefined || Object.keys(process.env).some((k) => k.startsWith("OTEL_"));
let telemetry: Telemetry | undefined;
if (wantsTelemetry) {
  const { startTelemetry } = await import("@rngbalance/telemetry");
  try {
    telemetry = await startTelemetry({ serviceName: "rng-client", metricsAddr: config.metricsAddr });
  } catch (err) {
    fail(`--metrics-addr ${config.metricsAddr}: ${(err as Error).message}`);
  }
  if (telemetry.metricsAddress) {
    process.stderr.write(`rng-client: metrics at http://${telemetry.metricsAddress}/metrics\n`);
  }
}

let transport: PoolTransport;
try {
  transport = createPoolTransport({
    target: config.target,
    // A demo client with a handful of pods: picks per endpoint are worth their labels.
    telemetry: { endpointLabel: true },
    policy: config.policy,
    protocol: config.protocol,
    connect: config.connect,
    slowStart: config.slowStart ?? false,
    peakEwma: config.peakEwma,
    weightedRoundRobin: config.weightedRoundRobin,
    ...(config.locality ? { locality: {} } : {}),
    ...(config.policy === "ring_hash"
      ? {
          policyConfig: {
            requestHashHeader: HASH_KEY_HEADER,
            ...(config.balanceFactor === undefined ? {} : { balanceFactor: config.balanceFactor }),
          },
        }
      : {}),
    ...(config.hedgeDelayMs === undefined
      ? {}
      : {
          hedgingPolicy: {
            maxAttempts: 2,
            hedgingDelayMs: config.hedgeDelayMs,
            ...(config.hedgePercentile === undefined
              ? {}
              : { hedgingDelayPercentile: config.hedgePercentile }),
            nonFatalCodes: [Code.Unavailable],
          },
        }),
    maxConnectionsPerEndpoint: config.maxConnectionsPerEndpoint,
    ...(config.subsetSize === undefined
      ? {}
      : {
          subset: {
            size: config.subsetSize,
            ...(config.clientIndex === undefined
              ? {}
              : { clientIndex: config.clientIndex, clientCount: config.clientCount }),
          },
        }),
  });
} catch (err) {
  fail(`--target: ${ConnectError.from(err).rawMessage}`);
}
if (config.verbose) logPoolEvents(transport, config);

const stop = new AbortController();
// Every worker's pause between calls listens to it: --concurrency 64 means
// 64 listeners at once, not a leak (Node warns past 10).
setMaxListeners(0, stop.signal);
const lingerStop = new AbortController();
let signals = 0;
let runOver = false;
const onSignal = () => {
  // Once the summary is out (the run is over), a signal only cuts the metrics linger short.
  if (runOver) {
    lingerStop.abort();
    return;
  }
  // The first signal stops new calls and prints the summary; a second exits at once.
  if (++signals > 1) process.exit(130);
  stop.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);
// A closed pipe (`rng-client | head`) ends the run quietly.
process.stdout.on("error", () => {
  stop.abort();
  process.exit(collectorExitCode());
});

const collector = new SummaryCollector();
const collectorExitCode = () => (collector.errors > 0 ? 1 : 0);
const out = (line: string) => process.stdout.write(`${line}\n`);

if (config.connect === "eager") await waitUntilSettled(transport, config.timeoutMs);
await runLoop({
  call: createRngCaller(
    transport,
    config.timeoutMs,
    config.hashKey === undefined ? undefined : { [HASH_KEY_HEADER]: config.hashKey },
  ),
  intervalMs: config.intervalMs,
  count: config.count,
  concurrency: config.concurrency,
  signal: stop.signal,
  onOutcome: (o) => {
    collector.add(o);
    out(config.json ? formatCallJson(o) : formatCallLine(o));
  },
});

const summary = collector.summary();
runOver = true;
out(config.json ? formatSummaryJson(summary) : `\n${formatSummary(summary)}`);
// Close gracefully, but never hang on it: every call has ended already.
await Promise.race([transport.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
// The pool is closed first, so what a scraper sees while runOver is final.
if (telemetry?.metricsAddress && config.metricsLingerMs > 0 && !lingerStop.signal.aborted) {
  await sleep(config.metricsLingerMs, undefined, { signal: lingerStop.signal }).catch(() => undefined);
}
await Promise.race([telemetry?.shutdown(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
process.stdout.write("", () => process.exit(collectorExitCode()));

/** `--verbose`: the pool's view, on stderr so stdout stays one line per call. */
function logPoolEvents(pool: PoolTransport, c: ClientConfig): void {
  const log = (text: string) => process.stderr.write(`rng-client: ${text}\n`);
  log(`target ${c.target}, policy ${c.policy}, protocol ${c.protocol}, connect ${c.connect}`);
  pool.on("resolution", (e) => {
    if (e.added.length === 0 && e.removed.length === 0) return;
    const changes = [...e.added.map((a) => `+${a}`), ...e.removed.map((a) => `-${a}`)].join(" ");
    log(`resolved ${e.addresses.length} address${e.addresses.length === 1 ? "" : "es"} (${changes})`);
  });
  pool.on("resolutionError", (e) =>
    log(`resolution failed, keeping ${e.keptAddresses} addresses: ${e.error.rawMessage}`),
  );
  pool.on("endpointState", (e) =>
    log(`${e.address} ${e.previous} -> ${e.state}${e.error ? `: ${e.error.message}` : ""}`),
  );
  pool.on("retry", (e) => log(`retry (${e.kind}) of a call to ${e.address}: ${e.error.rawMessage}`));
}
