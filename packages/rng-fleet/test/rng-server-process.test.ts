/**
 * The rng-server process and fleet fixtures: they spawn
 * `@rngbalance/rng-server`'s `main` entry by default, and any other entry
 * that calls `main` (as the apps/server app does) when given one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Rng, RngService } from "@rngbalance/proto";
import { RNG_SERVER_MAIN, spawnRngServer, startRngFleet } from "@rngbalance/rng-fleet";
import { type MainWrapper, writeMainWrapper } from "@rngbalance/testkit";

/** rng-server's index, and its dist/main.js beside it. */
const PACKAGE_INDEX = import.meta.resolve("@rngbalance/rng-server");
const PACKAGE_MAIN = fileURLToPath(new URL("./main.js", PACKAGE_INDEX));

/** An entry point of its own, outside the package, that runs the package's exported main (as apps/server does). */
let entry: MainWrapper;
let wrapper: string;
before(() => {
  entry = writeMainWrapper(PACKAGE_INDEX);
  wrapper = entry.path;
});
after(() => entry.remove());

describe("rng-server fixtures", () => {
  it("spawn rng-server's main entry by default (RNG_SERVER_MAIN is its dist/main.js)", async () => {
    assert.equal(RNG_SERVER_MAIN, PACKAGE_MAIN);
    const server = await spawnRngServer();
    try {
      assert.equal(server.child.spawnargs[1], PACKAGE_MAIN);
      const client = createClient(Rng, createGrpcTransport({ baseUrl: `http://${server.address}` }));
      assert.equal((await client.rng({})).RN, server.rn);
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });

  it("spawn another entry that runs main when given one as `main`, for a process and a fleet", async () => {
    const server = await spawnRngServer({ main: wrapper, args: ["--fault", "latency:1ms"] });
    try {
      assert.equal(server.child.spawnargs[1], wrapper);
      assert.equal(server.ready.fault, "latency:1ms");
      const client = createClient(RngService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
      const reply = await client.generate({});
      assert.equal(reply.rn, server.rn);
      assert.ok(reply.instance.endsWith(`/${server.address}`), reply.instance);
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
    const fleet = await startRngFleet({ replicas: 2, main: wrapper });
    try {
      assert.equal(fleet.servers.length, 2);
      for (const pod of fleet.servers) assert.equal(pod.child.spawnargs[1], wrapper);
    } finally {
      await fleet.close();
    }
  });
});
