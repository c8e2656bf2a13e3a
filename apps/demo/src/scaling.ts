import type { RngServerProcess } from "@rngbalance/rng-fleet";
import type { Stage } from "./stage.js";
import { seconds } from "./table.js";
import { describeExit } from "./transcript.js";

/** What scaling the fleet needs: the fleet, its pods and the output. */
export type ScalingStage = Pick<Stage, "fleet" | "pods" | "out">;

/** Adds pods (registered and labelled) until `replicas` run. */
export async function scaleUpTo(stage: ScalingStage, replicas: number): Promise<RngServerProcess[]> {
  const { fleet } = stage;
  const missing = Math.max(0, replicas - fleet.servers.length);
  const added = await Promise.all(Array.from({ length: missing }, () => fleet.addServer()));
  added.sort((a, b) => a.host.localeCompare(b.host, "en", { numeric: true }));
  for (const s of added) stage.pods.register(s);
  return added;
}

/** Adds pods until `replicas` run, or removes the newest (DNS first, then SIGTERM). */
export async function scaleTo(stage: ScalingStage, replicas: number): Promise<void> {
  const { fleet, pods, out } = stage;
  for (const s of await scaleUpTo(stage, replicas))
    out.say(out.describePod(pods.get(s.address)!, "now in DNS"));
  const byAge = pods.byAge(fleet.servers);
  await Promise.all(byAge.slice(replicas).map((s) => removePod(stage, s, false)));
}

/** Takes one pod out: DNS first, then SIGTERM, or SIGKILL (a crash) with `kill`. */
export async function removePod(stage: ScalingStage, server: RngServerProcess, kill: boolean): Promise<void> {
  const { out } = stage;
  const pod = stage.pods.get(server.address)!;
  const started = Date.now();
  const exiting = stage.fleet.removeServer(server, { kill });
  out.say(out.describePod(pod, `out of DNS, ${kill ? "SIGKILL" : "SIGTERM"}`));
  const exit = await exiting;
  out.say(out.describePod(pod, `exited (${describeExit(exit)}) after ${seconds(Date.now() - started)}`));
}
