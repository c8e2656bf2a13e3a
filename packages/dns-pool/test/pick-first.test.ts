/**
 * pick_first's address order and sticky TRANSIENT_FAILURE (gRFC A62) with
 * real rng-server processes on loopback pod IPs and real refused ports.
 * Happy Eyeballs over a blackholed address is tested where nftables lives:
 * packages/fault-injection/test/happy-eyeballs.test.ts.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer, startRngFleet } from "@rngbalance/rng-fleet";
import { freePort, until } from "./support.js";

describe("pick_first over real servers", () => {
  it("shuffleAddressList spreads 12 clients over 3 servers; without it every client takes the first", async () => {
    const fleet = await startRngFleet({ replicas: 3 });
    const target = `ipv4:${fleet.servers.map((s) => s.address).join(",")}`;
    const firstAnswer = async (shuffleAddressList: boolean) => {
      const pool = createPoolTransport({ target, policy: "pick_first", pickFirst: { shuffleAddressList } });
      try {
        return (await createClient(Rng, pool).rng({}, { timeoutMs: 5000 })).RN;
      } finally {
        await pool.close();
      }
    };
    try {
      const shuffled = new Set<bigint>();
      const ordered = new Set<bigint>();
      for (let i = 0; i < 12; i++) {
        shuffled.add(await firstAnswer(true));
        ordered.add(await firstAnswer(false));
      }
      console.log(
        `pick_first, 12 clients over 3 servers: ${shuffled.size} servers chosen shuffled, ${ordered.size} in order`,
      );
      // All 12 on one server by chance: 3 × (1/3)^12, about 6 in a million.
      assert.ok(shuffled.size >= 2, "shuffled clients spread");
      assert.deepEqual([...ordered], [fleet.servers[0]?.rn], "in order: all on the first address");
    } finally {
      await fleet.close();
    }
  });

  it("every address refused: TRANSIENT_FAILURE stays while they retry, fail-fast calls fail at once, and a server coming up wins", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const pool = createPoolTransport({
      target: `ipv4:127.0.0.41:${a},127.0.0.42:${b}`,
      policy: "pick_first",
      healthCheck: false,
      reconnectBackoff: { initialMs: 100, maxMs: 200, jitter: 0 },
    });
    const states: string[] = [];
    pool.on("state", (e) => states.push(e.state));
    const retries: string[] = [];
    pool.on("endpointState", (e) => {
      if (e.previous === ConnectivityState.TRANSIENT_FAILURE && e.state === ConnectivityState.CONNECTING) {
        retries.push(e.address);
      }
    });
    const client = createClient(Rng, pool);
    let server: RngServerProcess | undefined;
    try {
      await assert.rejects(client.rng({}, { timeoutMs: 5000 }), (err: unknown) => {
        assert.equal(ConnectError.from(err).code, Code.Unavailable);
        return true;
      });
      await until(() => retries.length >= 4, 5000, "both addresses retried");
      assert.deepEqual(
        states,
        [ConnectivityState.CONNECTING, ConnectivityState.TRANSIENT_FAILURE],
        "no CONNECTING between retries (sticky)",
      );
      const started = performance.now();
      await assert.rejects(client.rng({}, { timeoutMs: 5000 }), /UNAVAILABLE|unavailable/);
      assert.ok(performance.now() - started < 100, "fail-fast while every address fails");
      // The second address comes up: its next retry connects, and the pool is READY.
      server = await spawnRngServer({ host: "127.0.0.42", port: b });
      await until(() => pool.stats().state === ConnectivityState.READY, 5000, "READY once one connects");
      assert.equal((await client.rng({}, { timeoutMs: 5000 })).RN, server.rn);
    } finally {
      await pool.close();
      await server?.stop();
    }
  });
});
