import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RngFleet, startRngFleet } from "@rngbalance/rng-fleet";
import { startClient } from "./helpers.js";

describe("subsetting with real processes: 6 rng-client processes, 6 servers, subset size 2", () => {
  let fleet: RngFleet;
  before(async () => {
    fleet = await startRngFleet({ replicas: 6 });
  });
  after(() => fleet.close());

  it("every server gets calls and no client talks to more than 2", async () => {
    const clients = Array.from({ length: 6 }, (_, i) =>
      startClient([
        "--target",
        fleet.target,
        "--subset-size",
        "2",
        "--client-index",
        String(i),
        "--client-count",
        "6",
        "--interval",
        "5ms",
        "--count",
        "20",
        "--json",
      ]),
    );
    const perClient: Set<string>[] = [];
    for (const client of clients) {
      assert.deepEqual(await client.exited, { code: 0, signal: null }, client.stderr());
      const calls = client
        .stdout()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { address?: string | null })
        .filter((l) => l.address);
      assert.equal(calls.length, 20);
      perClient.push(new Set(calls.map((c) => c.address as string)));
    }
    for (const used of perClient) assert.equal(used.size, 2, `a client used ${[...used]}`);
    const servers = new Set(fleet.servers.map((s) => s.address));
    const reached = new Set(perClient.flatMap((s) => [...s]));
    assert.deepEqual(reached, servers, "every server gets calls");
    // With known indexes (aperture), connections are exactly balanced: 2 per server.
    const perServer = [...servers].map((s) => perClient.filter((c) => c.has(s)).length);
    assert.deepEqual(perServer, [2, 2, 2, 2, 2, 2]);
  });
});
