import type { ClientRun } from "./client-run.js";
import { formatPickRows, pickRows, picksPerEndpoint } from "./metrics.js";
import type { Stage } from "./stage.js";

/**
 * Shows the pool's picks per pod from rng-client's /metrics, next to the
 * calls each pod answered, and checks that every pod that answered has
 * its picks there.
 */
export async function showPicksFromMetrics(
  stage: Pick<Stage, "out" | "pods">,
  client: ClientRun,
): Promise<void> {
  const { out, pods } = stage;
  if (!client.metricsUrl) {
    out.check(false, "rng-client printed no metrics address");
    return;
  }
  const text = await fetch(client.metricsUrl).then(
    (r) => r.text(),
    (err: Error) => `# ${err.message}`,
  );
  const answered = new Map<string, number>();
  for (const c of client.calls) if (c.address) answered.set(c.address, (answered.get(c.address) ?? 0) + 1);
  const rows = pickRows(picksPerEndpoint(text), answered, (a) => pods.label(a));
  out.say();
  out.say(`  and its ${client.metricsUrl} says (rngbalance_pool_picks_total per endpoint):`);
  out.quote(formatPickRows(rows));
  out.check(
    rows.length > 0 && rows.every((r) => r.picks >= r.answered && r.picks > 0),
    "every pod that answered has its picks in /metrics (picks ≥ calls answered: retries count as picks)",
  );
}
