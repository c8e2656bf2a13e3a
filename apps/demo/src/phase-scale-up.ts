import { distinctInstances, errorCount } from "./call-stats.js";
import type { ClientRun } from "./client-run.js";
import { PICKUP_LIMIT_MS, WAIT_MS } from "./pace.js";
import type { Stage } from "./stage.js";
import { seconds } from "./table.js";

/**
 * Phase 2: two new pods join DNS while `client` runs; checks how soon each
 * gets its first call (within {@link PICKUP_LIMIT_MS}) and that calls then
 * rotate over all 5 pods.
 */
export async function scaleUpPhase(stage: Stage, client: ClientRun): Promise<void> {
  const { fleet, out, pace: p, signal } = stage;
  out.heading("Phase 2: scale 3 → 5");
  out.explain(
    "Two new pods start; each enters DNS once it listens (as an EndpointSlice update would).\n" +
      "The records have a TTL of 1 s, so the client asks DNS again every second.",
  );
  const start2 = client.calls.length;
  const joined = new Map<string, number>();
  const added = await Promise.all(
    [0, 1].map(async () => {
      const server = await fleet.addServer();
      joined.set(server.address, Date.now());
      const pod = stage.pods.register(server);
      out.say(out.describePod(pod, "now in DNS"));
      return pod;
    }),
  );
  const firstCall = (address: string) => client.calls.slice(start2).find((c) => c.address === address);
  const pickedUp = await out.must(
    client.waitFor(() => added.every((pod) => firstCall(pod.server.address)), WAIT_MS, signal),
    "calls to the new pods",
  );
  const pickups = added.map((pod) => {
    const call = firstCall(pod.server.address);
    return { pod, ms: call ? call.at - joined.get(pod.server.address)! : undefined };
  });
  for (const { pod, ms } of pickups) {
    out.check(
      ms !== undefined && ms <= PICKUP_LIMIT_MS,
      ms === undefined
        ? `${pod.label} never got a call`
        : `${pod.label} got its first call ${seconds(ms)} after it joined DNS`,
    );
  }
  if (pickedUp) await out.must(client.waitForCalls(p.afterPickup, WAIT_MS, signal), "more calls");
  const phase2 = client.calls.slice(start2);
  const distinct2 = distinctInstances(phase2);
  out.check(
    distinct2 === 5 && errorCount(phase2) === 0,
    `${phase2.length} calls, ${distinct2} pods, ${errorCount(phase2)} errors`,
  );
  stage.results.push({
    phase: "2. scale 3 → 5",
    calls: phase2.length,
    instances: distinct2,
    errors: errorCount(phase2),
    note: `first call to new pods after ${pickups.map((x) => (x.ms === undefined ? "never" : seconds(x.ms))).join(", ")}`,
    ok:
      distinct2 === 5 &&
      errorCount(phase2) === 0 &&
      pickups.every((x) => x.ms !== undefined && x.ms <= PICKUP_LIMIT_MS),
  });
}
