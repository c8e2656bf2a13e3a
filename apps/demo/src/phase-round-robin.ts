import { distinctInstances, errorCount } from "./call-stats.js";
import type { ClientRun } from "./client-run.js";
import { WAIT_MS } from "./pace.js";
import type { Stage } from "./stage.js";

/**
 * Phase 1: starts the long-running rng-client (round_robin through DNS)
 * and checks that its calls rotate over the 3 pods. The client keeps
 * running for phases 2 and 3.
 */
export async function roundRobinPhase(stage: Stage): Promise<ClientRun> {
  const { fleet, out, pace: p, signal } = stage;
  out.heading("Phase 1: round_robin over 3 pods");
  out.explain(
    "rng-client resolves the name through DNS, keeps one HTTP/2 connection per pod and\n" +
      "rotates calls over them. Each pod answers with its own number.",
  );
  // It serves its metrics too: the demo reads the per-pod counts there at the end of phase 3.
  const client = stage.clients.start([
    "--target",
    fleet.target,
    "--interval",
    p.interval,
    "--verbose",
    "--metrics-addr",
    "127.0.0.1:0",
    "--metrics-linger",
    "30s",
  ]);
  await out.must(client.waitForCalls(p.phase1, WAIT_MS, signal), `${p.phase1} calls`);
  const phase1 = client.calls.slice(0);
  const distinct1 = distinctInstances(phase1);
  out.check(
    distinct1 === 3 && errorCount(phase1) === 0,
    `${phase1.length} calls, ${distinct1} pods, ${errorCount(phase1)} errors`,
  );
  stage.results.push({
    phase: "1. round_robin, 3 pods",
    calls: phase1.length,
    instances: distinct1,
    errors: errorCount(phase1),
    note: "",
    ok: distinct1 === 3 && errorCount(phase1) === 0,
  });
  return client;
}
