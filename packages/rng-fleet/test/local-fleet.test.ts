import assert from "node:assert/strict";
import * as dns from "node:dns";
import { once } from "node:events";
import * as net from "node:net";
import { describe, it } from "node:test";
import { type FleetPod, LocalFleet } from "@rngbalance/rng-fleet";

/** A pod that is a plain TCP server in this process: enough to check the fleet's bookkeeping. */
async function tcpPod({ host, port }: { host: string; port: number }) {
  const server = net.createServer((socket) => socket.end("hi"));
  server.listen(port, host);
  await once(server, "listening");
  const pod: FleetPod & { stops: NodeJS.Signals[] } = {
    host,
    address: `${host}:${port}`,
    stops: [],
    async stop(signal = "SIGTERM") {
      pod.stops.push(signal);
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return pod;
}

describe("LocalFleet", () => {
  it("spawns pods on distinct loopback IPs, keeps DNS in step on scale, stops everything", async () => {
    const fleet = await LocalFleet.start({ replicas: 2, spawn: tcpPod });
    const resolver = new dns.promises.Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([fleet.dns.address]);
    const ips = async () => (await resolver.resolve4(fleet.name)).sort();
    try {
      assert.deepEqual(await ips(), fleet.servers.map((s) => s.host).sort());
      assert.equal(new Set(fleet.servers.map((s) => s.host)).size, 2);
      await fleet.scaleTo(3);
      assert.equal((await ips()).length, 3);
      const [first] = fleet.servers;
      await fleet.removeServer(first!, { kill: true });
      assert.deepEqual(first!.stops, ["SIGKILL"]);
      assert.ok(!(await ips()).includes(first!.host), "DNS drops a pod before it is stopped");
      await fleet.scaleTo(1);
      assert.equal((await ips()).length, 1);
    } finally {
      const pods = fleet.servers;
      await fleet.close();
      for (const p of pods) assert.deepEqual(p.stops, ["SIGTERM"]);
    }
  });
});
