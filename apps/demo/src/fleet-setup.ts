import { type RngFleet, startRngFleet } from "@rngbalance/rng-fleet";
import { SHUTDOWN_DELAY_MS } from "./pace.js";
import type { PodRegistry } from "./pods.js";
import type { Transcript } from "./transcript.js";

/** Prints the demo's introduction and starts the fleet: the DNS server and 3 pods, registered. */
export async function setUpFleet(out: Transcript, pods: PodRegistry): Promise<RngFleet> {
  const { style } = out;
  out.say(style.bold("rngbalance demo: client-side DNS load balancing on one machine"));
  out.explain(
    "An embedded DNS server plays kube-dns for the headless Service rng-headless; rng-server\n" +
      "processes play its pods on 127.0.0.2, .3, ... (Linux routes all of 127/8 to loopback).",
  );
  out.heading("Setting up: kube-dns and 3 pods");
  out.explain(
    `DNS records have a TTL of 1 s. On SIGTERM a pod serves ${SHUTDOWN_DELAY_MS / 1000} s more while health checks\n` +
      "say NOT_SERVING (a preStop delay), then sends GOAWAY and finishes the calls in flight.",
  );
  const fleet = await startRngFleet({
    replicas: 3,
    ttlSeconds: 1,
    serverArgs: ["--shutdown-delay-ms", String(SHUTDOWN_DELAY_MS)],
  });
  const servers = [...fleet.servers].sort((a, b) => a.host.localeCompare(b.host, "en", { numeric: true }));
  out.say(
    `  ${"dns".padEnd(6)}   ${fleet.dns.address.padEnd(17)} in this process, answers for ${fleet.name}`,
  );
  for (const s of servers) out.say(out.describePod(pods.register(s), ""));
  out.say(`  target   ${style.bold(fleet.target)}`);
  return fleet;
}
