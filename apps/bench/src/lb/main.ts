#!/usr/bin/env node
/**
 * `pnpm bench:lb`: latency- and load-aware balancing against one bad pod.
 * Prints Markdown tables and writes them, with the raw figures as JSON, to
 * bench/results/lb-latest.{md,json}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import * as path from "node:path";
import { FlagError, type FlagSpec, parseFlags, renderFlagTable } from "@rngbalance/cli";
import { DEFAULT_OUT_DIR } from "../harness/report.js";
import { a105Table, connectionScaling } from "./a105.js";
import { happyEyeballs, happyEyeballsTable } from "./happy-eyeballs.js";
import { hedging, hedgingTables } from "./hedging.js";
import { panicSpread, panicTable } from "./panic.js";
import { badPodTable, scaleUpTable, zoneTable } from "./report.js";
import { ringHash, ringHashTable } from "./ring-hash.js";
import { badPod, LB_POLICIES, scaleUp } from "./scenarios.js";
import { zoneScenario } from "./zone.js";

const FLAGS = {
  quick: { type: "boolean", help: "short runs (a smoke test, not figures)" },
  concurrency: { type: "int", default: 16, min: 1, max: 1000, help: "calls in flight" },
  pods: { type: "int", default: 5, min: 2, max: 50, help: "pods, one of them bad" },
  duration: { type: "duration", default: 12_000, positive: true, help: "measured per policy, in all" },
  warmup: { type: "duration", default: 1000, help: "per policy and round, not measured" },
  rounds: { type: "int", default: 4, min: 1, max: 100, help: "policies take turns this many times" },
  "latency-fault": { type: "string", default: "latency:50ms", help: "the slow pod's --fault" },
  "cpu-fault": { type: "string", default: "cpu:2ms", help: "the CPU-loaded pod's --fault" },
  "slow-start-window": { type: "duration", default: 10_000, positive: true, help: "scale-up: the ramp" },
  scenarios: {
    type: "string",
    default: "latency,cpu,scale",
    help: "which to run, comma-separated (also: panic, eyeballs)",
  },
  policies: {
    type: "string",
    default: LB_POLICIES.join(","),
    help: "policies of the bad-pod scenarios, comma-separated",
    validate: (v) =>
      v.split(",").every((p) => (LB_POLICIES as readonly string[]).includes(p))
        ? undefined
        : `must be a comma-separated list of ${LB_POLICIES.join(", ")}`,
  },
  "peak-ewma-decay": { type: "duration", default: 10_000, positive: true, help: "peak_ewma's decayMs" },
  "hedging-rate": { type: "int", default: 400, min: 1, max: 100_000, help: "hedging: calls/s, paced" },
  "hedging-delay": {
    type: "duration",
    default: 10,
    positive: true,
    help: "hedging: hedgingPolicy.hedgingDelayMs",
  },
  out: { type: "string", default: DEFAULT_OUT_DIR, placeholder: "dir", help: "where lb-latest.{md,json} go" },
  "a105-concurrency": {
    type: "int",
    default: 100,
    min: 1,
    max: 1000,
    help: "a105: calls in flight to the pod",
  },
  "a105-max-connections": {
    type: "int",
    default: 12,
    min: 1,
    max: 100,
    help: "a105: maxConnectionsPerEndpoint",
  },
  scenario: {
    type: "string",
    help: "run this one scenario alone (e.g. ring_hash, a105); overrides --scenarios",
  },
  "ring-pods": { type: "int", default: 10, min: 2, max: 50, help: "ring_hash: pods (the last one joins)" },
  "ring-concurrency": { type: "int", default: 200, min: 1, max: 2000, help: "ring_hash: calls in flight" },
  "ring-keys": {
    type: "int",
    default: 1000,
    min: 1,
    max: 1_000_000,
    help: "ring_hash: distinct keys (Zipf)",
  },
  "ring-balance-factor": {
    type: "number",
    default: 1.25,
    min: 1,
    help: "ring_hash: the bounded run's factor",
  },
  "zone-fault": { type: "string", default: "cpu:5ms", help: "zone: the 2 saturated zone-a pods' --fault" },
} as const satisfies Record<string, FlagSpec>;

const USAGE = `Usage: pnpm bench:lb [-- flags]     (or: node apps/bench/dist/lb/main.js [flags])

One bad pod among --pods rng-server pods on loopback, --concurrency calls in
flight, closed loop, each policy in turn (round_robin, least_request,
peak_ewma, weighted_round_robin): the bad pod's share, latency percentiles,
errors. Scenarios: latency (one pod --fault latency:50ms), cpu (one pod
--fault cpu:2ms), scale (a pod joins: its share per second, slow start on/off),
a105 (connection scaling: calls to a pod with --max-concurrent-streams 10,
with and without maxConnectionsPerEndpoint; run alone with --scenario a105),
ring_hash (not in the default set: key stickiness, keys moved when a pod joins,
the busiest pod under a Zipf key mix with and without bounded loads), zone
(not in the default set: 3 zones of 3 pods, one client per zone with locality
on; calls leaving zone a, zone a's last pod's load when 2 of its pods are gone
or saturated, terminating pods; run alone with --scenario zone), and
hedging (round_robin, one pod slow: p50/p99 with and without hedging, extra
attempts; every pod failing: extra attempts with and without the retry budget;
run alone with --scenario hedging).

Flags:
${renderFlagTable(FLAGS)}`;

let parsed: ReturnType<typeof parseFlags<typeof FLAGS>>;
try {
  parsed = parseFlags(FLAGS, process.argv.slice(2));
} catch (err) {
  if (!(err instanceof FlagError)) throw err;
  process.stderr.write(`bench:lb: ${err.message}\n`);
  process.exit(2);
}
if (parsed.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const v = parsed.values;
const quick = v.quick;
const policies = v.policies.split(",") as typeof LB_POLICIES;
const base = {
  peakEwmaDecayMs: v["peak-ewma-decay"],
  rounds: quick ? 1 : v.rounds,
  pods: v.pods,
  concurrency: v.concurrency,
  warmupMs: quick ? 1000 : v.warmup,
  durationMs: quick ? 1500 : v.duration,
};
const scenarios = new Set((v.scenario || v.scenarios).split(","));
const out: string[] = [
  `# bench:lb — ${new Date().toISOString().slice(0, 10)}`,
  "",
  `${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores, Node ${process.version}; ${v.pods} pods, ${v.concurrency} in flight, closed loop; policies take turns in ${base.rounds} rounds of ${base.warmupMs / 1000} s warm-up + ${base.durationMs / base.rounds / 1000} s measured${quick ? " (--quick: not figures)" : ""}.`,
  "",
];
const json: Record<string, unknown> = { quick, ...base };
const log = (line: string) => {
  process.stdout.write(`${line}\n`);
  out.push(line);
};

if (scenarios.has("latency")) {
  const results = await badPod({ ...base, fault: v["latency-fault"], firstHost: 30 }, policies);
  log(`## One pod with --fault ${v["latency-fault"]}\n\n${badPodTable(results)}\n`);
  json.latency = results.map(summary);
}
if (scenarios.has("cpu")) {
  const results = await badPod({ ...base, fault: v["cpu-fault"], firstHost: 40 }, policies);
  log(`## One pod with --fault ${v["cpu-fault"]}\n\n${badPodTable(results)}\n`);
  json.cpu = results.map(summary);
}
if (scenarios.has("scale")) {
  const windowMs = quick ? 2000 : v["slow-start-window"];
  const shares = await scaleUp({
    pods: v.pods - 1,
    concurrency: v.concurrency,
    beforeMs: quick ? 1000 : 3000,
    windowMs,
    afterMs: quick ? 1000 : 3000,
    firstHost: 50,
    policy: "round_robin",
  });
  log(
    `## Scale-up: a ${v.pods}th pod joins ${v.pods - 1} (round_robin, slow start window ${windowMs / 1000} s)\n\n${scaleUpTable(shares, v.pods)}\n`,
  );
  json.scaleUp = { windowMs, ...shares };
}
if (scenarios.has("a105")) {
  const s = {
    concurrency: v["a105-concurrency"],
    maxConcurrentStreams: 10,
    maxConnections: v["a105-max-connections"],
    fault: "latency:20ms",
    warmupMs: quick ? 500 : v.warmup,
    durationMs: quick ? 1500 : 6000,
    rounds: quick ? 1 : 3,
    firstHost: 60,
  };
  const rows = await connectionScaling(s);
  log(
    `## Connection scaling (gRFC A105): ${s.concurrency} calls in flight to one pod, each held ${s.fault.slice(8)} by --fault ${s.fault}\n\n${a105Table(rows)}\n`,
  );
  json.a105 = rows.map((r) => ({
    setup: r.label,
    callsPerSecond: r.callsPerSecond,
    connectionsOpened: r.connectionsOpened,
    errors: r.run.errors,
    maxMs: r.run.latency.percentile(100) / 1000,
  }));
}
if (scenarios.has("ring_hash")) {
  const settings = {
    pods: v["ring-pods"],
    concurrency: v["ring-concurrency"],
    keys: v["ring-keys"],
    zipfS: 1.1,
    balanceFactor: v["ring-balance-factor"],
    durationMs: quick ? 1500 : base.durationMs / 2,
    firstHost: 60,
  };
  const result = await ringHash(settings);
  log(
    `## ring_hash: ${settings.pods} pods, ${settings.concurrency} in flight, ${settings.durationMs / 1000} s per run\n\n${ringHashTable(result, settings)}\n`,
  );
  const { runs, ...figures } = result;
  json.ringHash = { ...settings, ...figures };
}
if (scenarios.has("panic")) {
  const settings = { pods: 9, notServing: 6, concurrency: v.concurrency, firstHost: 60 };
  const timing = { warmupMs: quick ? 500 : v.warmup, durationMs: quick ? 1500 : v.duration / 2 };
  const results = await panicSpread({ ...settings, ...timing });
  log(
    `## Panic threshold: 6 of 9 pods NOT_SERVING (round_robin)\n\n${panicTable(results, settings.pods, settings.notServing)}\n`,
  );
  json.panic = results.map(({ run, ...r }) => ({ ...r, calls: run.calls, errors: run.errors }));
}
if (scenarios.has("eyeballs")) {
  const result = await happyEyeballs({ runs: quick ? 1 : 5, connectTimeoutMs: 3000 });
  log(
    `## Happy Eyeballs (pick_first): first call with the first IPv4 addresses blackholed, rng-server on ::1\n\n${happyEyeballsTable(result)}\n`,
  );
  json.happyEyeballs = result.ok ? { byDelayMs: Object.fromEntries(result.byDelay) } : result;
}
if (scenarios.has("zone")) {
  const perClient = Math.max(1, Math.round(v.concurrency / 3));
  const policy = "least_request";
  const phases = await zoneScenario({
    concurrency: perClient,
    warmupMs: quick ? 1000 : Math.max(v.warmup, 2000),
    durationMs: quick ? 1500 : v.duration / 2,
    firstHost: 120,
    saturateFault: v["zone-fault"],
    policy,
  });
  log(
    `## Zone-aware routing: 3 zones × 3 pods, one client per zone (${policy} under locality), ${perClient} in flight each\n\n${zoneTable(phases)}\n`,
  );
  json.zone = phases;
}
if (scenarios.has("hedging")) {
  const r = await hedging({
    pods: v.pods,
    fault: v["latency-fault"],
    concurrency: v.concurrency,
    warmupMs: base.warmupMs,
    durationMs: base.durationMs,
    rounds: base.rounds,
    hedgingDelayMs: v["hedging-delay"],
    ratePerSecond: v["hedging-rate"],
    workers: 32,
    outageMs: quick ? 1000 : 3000,
    firstHost: 60,
  });
  log(
    `## Hedging: one pod of ${v.pods} with --fault ${v["latency-fault"]} (round_robin, ${v["hedging-rate"]} calls/s paced); then every pod UNAVAILABLE (${v.concurrency} in flight, closed loop)\n\n${hedgingTables(r)}\n`,
  );
  json.hedging = {
    tail: r.tail.map((row) => ({
      name: row.name,
      calls: row.run.calls,
      p50us: Math.round(row.run.latency.percentile(50)),
      p99us: Math.round(row.run.latency.percentile(99)),
      extraRatio: row.extraRatio,
    })),
    outage: r.outage.map((row) => ({
      name: row.name,
      calls: row.run.calls,
      extraRatio: row.extraRatio,
      refusedRatio: row.refusedRatio,
    })),
  };
}
mkdirSync(v.out, { recursive: true });
writeFileSync(path.join(v.out, "lb-latest.md"), `${out.join("\n")}\n`);
writeFileSync(path.join(v.out, "lb-latest.json"), `${JSON.stringify(json, null, 2)}\n`);
process.stdout.write(`wrote ${path.join(v.out, "lb-latest.md")}\n`);

function summary(r: Awaited<ReturnType<typeof badPod>>[number]) {
  const us = (p: number) => Math.round(r.run.latency.percentile(p));
  return {
    policy: r.policy,
    calls: r.run.calls,
    errors: r.run.errors,
    badShare: r.badShare,
    p50us: us(50),
    p99us: us(99),
    p999us: us(99.9),
  };
}
