#!/usr/bin/env node
// rng-faults: runs the silent-failure scenarios against the client drivers
// and prints one table per scenario, the drivers side by side. Inside a
// network namespace of its own when netfilter faults can run here (root,
// ip, nft); otherwise those scenarios are skipped with the reason.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DRIVERS } from "./drivers.js";
import { createNetworkNamespace } from "./netns.js";
import { probeFaultSupport } from "./probe.js";
import { runFaultScenarios, SCENARIOS } from "./scenarios.js";
import { formatFaultTable } from "./table.js";

const HELP = `rng-faults: how clients ride out silent failures of one pod (issue #23)

  --scenarios a,b   ${Object.keys(SCENARIOS).join(", ")} (default: all)
  --drivers a,b     ${Object.keys(DRIVERS).join(", ")} (default: pool, grpc-js, grpc-js-keepalive)
  --pods N          pods in the fleet (default 5)
  --in-flight N     calls in flight per client (default 64)
  --warmup-ms N     load before the baseline, not measured (default 2000)
  --baseline-ms N   before the fault (default 3000)
  --fault-ms N      the fault (default 8000)
  --recovery-ms N   after the fault (default 5000)
  --netns           run in a network namespace of its own even without netfilter scenarios
  --node PATH       the node binary the client drivers run on (default: this one)
  --json FILE       also write the results as JSON
`;

const { values } = parseArgs({
  options: {
    scenarios: { type: "string" },
    drivers: { type: "string" },
    pods: { type: "string", default: "5" },
    "in-flight": { type: "string", default: "64" },
    "warmup-ms": { type: "string", default: "2000" },
    "baseline-ms": { type: "string", default: "3000" },
    "fault-ms": { type: "string", default: "8000" },
    "recovery-ms": { type: "string", default: "5000" },
    json: { type: "string" },
    netns: { type: "boolean" },
    node: { type: "string" },
    help: { type: "boolean" },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function pick<T>(
  table: Readonly<Record<string, T>>,
  list: string | undefined,
  fallback: string[],
  what: string,
): T[] {
  const names = list ? list.split(",").map((s) => s.trim()) : fallback;
  return names.map((n) => {
    const found = table[n];
    if (!found) {
      process.stderr.write(`rng-faults: unknown ${what} "${n}" (known: ${Object.keys(table).join(", ")})\n`);
      process.exit(2);
    }
    return found;
  });
}
function int(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`rng-faults: --${name} must be a positive integer, got "${value}"\n`);
    process.exit(2);
  }
  return n;
}

let scenarios = pick(SCENARIOS, values.scenarios, Object.keys(SCENARIOS), "scenario");
const drivers = pick(DRIVERS, values.drivers, ["pool", "grpc-js", "grpc-js-keepalive"], "driver");
const inside = process.env.RNG_FAULTS_NETNS;

if (inside === undefined && (values.netns || scenarios.some((s) => s.needsNetfilter))) {
  const support = probeFaultSupport();
  if (support.ok) {
    // Everything (pods, DNS server, clients, rules) runs on the namespace's own loopback.
    const ns = await createNetworkNamespace({ prefix: "rngfaults" });
    try {
      const child = ns.spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
        stdio: "inherit",
        env: { ...process.env, RNG_FAULTS_NETNS: ns.name },
      });
      const code = await new Promise<number>((r) => child.once("exit", (c) => r(c ?? 1)));
      process.exitCode = code;
    } finally {
      await ns.destroy();
    }
    process.exit();
  }
  const skipped = scenarios.filter((s) => s.needsNetfilter).map((s) => s.name);
  process.stderr.write(`rng-faults: skipping ${skipped.join(", ")}: ${support.reason}\n`);
  scenarios = scenarios.filter((s) => !s.needsNetfilter);
}

process.stderr.write(
  `rng-faults: ${scenarios.map((s) => s.name).join(", ")} x ${drivers.map((d) => d.name).join(", ")}${inside ? ` in network namespace ${inside}` : ""}\n`,
);
const results = await runFaultScenarios({
  scenarios,
  drivers,
  pods: int("pods", values.pods),
  inFlight: int("in-flight", values["in-flight"]),
  warmupMs: int("warmup-ms", values["warmup-ms"]),
  baselineMs: int("baseline-ms", values["baseline-ms"]),
  faultMs: int("fault-ms", values["fault-ms"]),
  recoveryMs: int("recovery-ms", values["recovery-ms"]),
  ...(values.node ? { nodePath: values.node } : {}),
  onResult: (r) =>
    process.stderr.write(
      `  done: ${r.scenario} / ${r.driver}${r.hung ? " (HUNG)" : r.error ? " (error)" : ""}\n`,
    ),
});
process.stdout.write(`\n${formatFaultTable(scenarios, results)}`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
