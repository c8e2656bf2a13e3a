import assert from "node:assert/strict";
import * as dns from "node:dns";
import { describe, it } from "node:test";
import { APP_MAIN, startAppFleet } from "./helpers.js";

describe("startRngFleet (LocalFleet of rng-server pods) on the app's entry point", () => {
  it("starts pods on distinct loopback IPs, keeps DNS in step on scale, stops everything", async () => {
    const fleet = await startAppFleet({ replicas: 2 });
    const resolver = new dns.promises.Resolver({ timeout: 300, tries: 1 });
    resolver.setServers([fleet.dns.address]);
    const ips = async () => (await resolver.resolve4(fleet.name)).sort();
    try {
      assert.match(fleet.target, /^dns:\/\/127\.0\.0\.1:\d+\/rng-headless:\d+$/);
      for (const s of fleet.servers) assert.equal(s.child.spawnargs[1], APP_MAIN, "pods run the app's entry");
      assert.deepEqual(await ips(), fleet.servers.map((s) => s.host).sort());
      assert.equal(new Set(fleet.servers.map((s) => s.rn)).size, 2);
      await fleet.scaleTo(3);
      assert.equal((await ips()).length, 3);
      const [first] = fleet.servers;
      assert.deepEqual(await fleet.removeServer(first!), { code: 0, signal: null });
      assert.ok(!(await ips()).includes(first!.host));
    } finally {
      const servers = fleet.servers;
      await fleet.close();
      for (const s of servers) assert.notEqual(s.child.exitCode ?? s.child.signalCode, null);
    }
  });
});
