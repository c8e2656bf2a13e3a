import { distinctInstances, errorCount } from "./call-stats.js";
import type { ClientRun } from "./client-run.js";
import { WAIT_MS } from "./pace.js";
import { showPicksFromMetrics } from "./picks-report.js";
import { removePod } from "./scaling.js";
import type { Stage } from "./stage.js";
import { seconds } from "./table.js";
import { describeExit } from "./transcript.js";

/**
 * Phase 3: every pod but the oldest leaves DNS and gets SIGTERM while
 * `client` runs; checks that calls then go to the one pod left and that
 * none fails. Then ends the client as Ctrl-C would: its summary, its
 * per-pod picks from /metrics, its exit status.
 */
export async function scaleDownPhase(stage: Stage, client: ClientRun): Promise<void> {
  const { fleet, out, pods, pace: p, signal } = stage;
  out.heading("Phase 3: scale 5 → 1, gracefully");
  out.explain(
    "Each removed pod leaves DNS first, then gets SIGTERM: its health turns NOT_SERVING, so the\n" +
      "client stops picking it at once; after the delay it sends GOAWAY, finishes the calls in\n" +
      "flight and exits. No call fails.",
  );
  const start3 = client.calls.length;
  const [keep, ...victims] = pods.byAge(fleet.servers);
  const removedAt = Date.now();
  await Promise.all(victims.map((server) => removePod(stage, server, false)));
  const drained = client.calls.length;
  await out.must(client.waitForCalls(p.afterDrain, WAIT_MS, signal), "calls after the drain");
  const after = client.calls.slice(drained);
  const onlyKeep = after.length > 0 && after.every((c) => c.address === keep!.address);
  const removed = new Set(victims.map((s) => s.address));
  const lastToRemoved = client.calls
    .slice(start3)
    .filter((c) => c.address !== undefined && removed.has(c.address))
    .at(-1);
  out.check(
    onlyKeep,
    `after the drain, ${after.length} of ${after.length} calls went to ${pods.get(keep!.address)!.label}` +
      (lastToRemoved
        ? `; last call to a removed pod ${seconds(lastToRemoved.at - removedAt)} after scale-down`
        : ""),
  );

  // The long-running client ends as on Ctrl-C: its summary, then its exit status.
  out.say();
  out.say(`  rng-client gets SIGINT and prints its summary:`);
  await out.must(client.interrupt(WAIT_MS), "the client's summary");
  out.quote(client.summary);
  await showPicksFromMetrics(stage, client);
  // A second SIGINT ends the client's metrics linger.
  const exit = await stage.clients.stop(client);
  const phase3 = client.calls.slice(start3);
  const errors3 = errorCount(phase3);
  out.check(
    exit.code === 0 && errors3 === 0,
    `rng-client exited ${describeExit(exit)}: ${errorCount(client.calls)} failed calls of ${client.calls.length} in all`,
  );
  stage.results.push({
    phase: "3. scale 5 → 1",
    calls: phase3.length,
    instances: distinctInstances(after),
    errors: errors3,
    note: lastToRemoved
      ? `removed pods' last call ${seconds(lastToRemoved.at - removedAt)} after leaving DNS`
      : "no call reached a removed pod after it left DNS",
    ok: onlyKeep && errors3 === 0 && exit.code === 0,
  });
}
