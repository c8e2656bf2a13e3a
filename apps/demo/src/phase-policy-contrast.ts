import { Resolver } from "node:dns/promises";
import type { RngFleet } from "@rngbalance/rng-fleet";
import { distinctInstances, errorCount } from "./call-stats.js";
import { scaleUpTo } from "./scaling.js";
import type { Stage } from "./stage.js";

/**
 * Phase 4: back at 3 pods, short client runs with round_robin, with
 * pick_first, and with a passthrough target (one address the OS would
 * resolve): how many pods each one reaches.
 */
export async function policyContrastPhase(stage: Stage): Promise<void> {
  const { fleet, out, pods } = stage;
  out.heading("Phase 4: round_robin vs pick_first vs passthrough (back at 3 pods)");
  for (const server of await scaleUpTo(stage, 3))
    out.say(out.describePod(pods.get(server.address)!, "now in DNS"));
  out.explain("The dns:/// target with round_robin, as in phases 1 to 3:");
  await shortRun(stage, "4a. dns:///, round_robin", ["--target", fleet.target], 3);
  out.explain(
    "With pick_first (gRPC's default policy when no service config names one), every call\n" +
      "goes to one pod: the first address of the DNS answer that accepts a connection.",
  );
  await shortRun(stage, "4b. dns:///, pick_first", ["--target", fleet.target, "--policy", "pick_first"], 1);
  const ips = await resolveOnce(fleet);
  out.explain(
    `Without dns:///, "${fleet.name}:${fleet.port}" is a passthrough target: gRPC hands the name to the OS,\n` +
      "which resolves it once, and one HTTP/2 connection carries every call, to one pod, however\n" +
      `far the Service scales. This machine's resolver does not know ${fleet.name} (only the\n` +
      "embedded DNS does), so the demo does the OS's part, one lookup, and passes the first answer\n" +
      `of ${ips.join(", ")}:`,
  );
  await shortRun(
    stage,
    `4c. passthrough ${ips[0]}:${fleet.port}`,
    ["--target", `${ips[0]}:${fleet.port}`],
    1,
  );
}

/** What the OS resolver would answer if it knew the name: the embedded DNS's A records. */
async function resolveOnce(fleet: RngFleet): Promise<string[]> {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([fleet.dns.address]);
  return resolver.resolve4(fleet.name);
}

/** A client run of a few calls; checks it reached `expected` pods without errors. */
async function shortRun(stage: Stage, phase: string, args: string[], expected: number): Promise<void> {
  const { out, pace } = stage;
  const run = stage.clients.start([...args, "--interval", pace.interval, "--count", String(pace.contrast)]);
  const exit = await stage.clients.stop(run, false);
  const n = distinctInstances(run.calls);
  const ok = n === expected && errorCount(run.calls) === 0 && exit.code === 0;
  const who = [...new Set(run.calls.map((c) => stage.pods.label(c.address ?? "")))].join(", ");
  out.check(
    ok,
    `${run.calls.length} calls, ${n} pod${n === 1 ? "" : "s"} (${who}), ${errorCount(run.calls)} errors`,
  );
  stage.results.push({
    phase,
    calls: run.calls.length,
    instances: n,
    errors: errorCount(run.calls),
    note: "",
    ok,
  });
}
