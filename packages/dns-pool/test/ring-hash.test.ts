import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createClient, createContextValues } from "@connectrpc/connect";
import { ConnectivityState, hashKey, type PoolTransport } from "@rngbalance/dns-pool";
import { FakeResolver } from "@rngbalance/dns-pool/testing";
import { Rng, RngService } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngPods } from "@rngbalance/rng-fleet";
import { readyPool, until } from "./support.js";

// ring_hash over real rng-server processes on loopback pod IPs (127.0.25.x,
// away from the other tests' hosts); each answer's RN says which pod served it.

const HOSTS = ["127.0.25.2", "127.0.25.3", "127.0.25.4", "127.0.25.5", "127.0.25.6"];
const KEYS = Array.from({ length: 300 }, (_, i) => `user-${i}`);

describe("ring_hash over real servers", () => {
  const servers: RngServerProcess[] = [];
  const pools: PoolTransport[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  /** Pods on all HOSTS on one port. */
  const spawnPods = async () => {
    const started = await spawnRngPods({ hosts: HOSTS });
    servers.push(...started.pods);
    return started;
  };

  const readyCount = (pool: PoolTransport) =>
    pool.stats().endpoints.filter((e) => e.state === ConnectivityState.READY).length;

  it("sends each key to one pod (header or context value alike); a fifth pod takes only keys it now owns", async () => {
    const { port, pods } = await spawnPods();
    const addresses = HOSTS.map((host) => ({ host, port }));
    const resolver = new FakeResolver();
    resolver.push(addresses.slice(0, 4));
    const pool = await readyPool(
      pools,
      { policy: "ring_hash", policyConfig: { requestHashHeader: "x-user" } },
      4,
      resolver,
    );
    const client = createClient(Rng, pool);
    const byHeader = async (key: string) => (await client.rng({}, { headers: { "X-User": key } })).RN;
    const byContext = async (key: string) =>
      (await client.rng({}, { contextValues: createContextValues().set(hashKey, key) })).RN;
    const podsOf = async (call: (key: string) => Promise<bigint>) => {
      const out = new Map<string, bigint>();
      for (const key of KEYS) out.set(key, await call(key));
      return out;
    };

    const before = await podsOf(byHeader);
    let same = 0;
    for (let round = 0; round < 3; round++) {
      const again = await podsOf(round === 1 ? byContext : byHeader);
      for (const key of KEYS) if (again.get(key) === before.get(key)) same++;
    }
    assert.equal(same, 3 * KEYS.length, "every key's calls all went to one pod");
    // Streaming calls pick by the same key.
    const streams = createClient(RngService, pool);
    for (const key of KEYS.slice(0, 30)) {
      for await (const m of streams.generateStream({ count: 2 }, { headers: { "x-user": key } })) {
        assert.equal(m.rn, before.get(key), `${key}'s stream went to its pod`);
      }
    }
    const used = new Set(before.values());
    assert.equal(used.size, 4, "the keys spread over the 4 pods");
    for (const rn of used) {
      const n = [...before.values()].filter((x) => x === rn).length;
      assert.ok(n > 0.1 * KEYS.length, `each pod owns a real share of the keys: ${n}`);
    }

    resolver.push(addresses);
    await until(() => readyCount(pool) === 5, 10_000, "5 endpoints READY");
    const afterJoin = await podsOf(byHeader);
    const newPod = pods[4]!.rn;
    const moved = KEYS.filter((k) => afterJoin.get(k) !== before.get(k));
    for (const k of moved) assert.equal(afterJoin.get(k), newPod, `${k} moved to the new pod only`);
    const share = moved.length / KEYS.length;
    assert.ok(share > 0.08 && share < 0.35, `about 1/5 of the keys moved: ${share}`);
  });

  it("moves a stopped pod's keys to the next pods, and only those; calls without a key spread", async () => {
    const pods = servers.slice(0, 5);
    const port = Number(pods[0]!.address.split(":")[1]);
    const resolver = new FakeResolver();
    resolver.push(HOSTS.map((host) => ({ host, port })));
    const pool = await readyPool(
      pools,
      {
        policy: "ring_hash",
        policyConfig: { requestHashHeader: "x-user" },
        reconnectBackoff: { initialMs: 100, maxMs: 500 },
        outlierDetection: false,
      },
      5,
      resolver,
    );
    const client = createClient(Rng, pool);
    const podOf = async (key: string) => (await client.rng({}, { headers: { "x-user": key } })).RN;
    const before = new Map<string, bigint>();
    for (const key of KEYS) before.set(key, await podOf(key));

    const keyless = new Set<bigint>();
    for (let i = 0; i < 100; i++) keyless.add((await client.rng({})).RN);
    assert.equal(keyless.size, 5, "calls without the header go anywhere");

    const victim = pods[1]!;
    await victim.stop();
    servers.splice(servers.indexOf(victim), 1);
    await until(() => readyCount(pool) === 4, 10_000, "the stopped pod is no longer READY");
    for (const key of KEYS) {
      const rn = await podOf(key);
      if (before.get(key) === victim.rn) assert.notEqual(rn, victim.rn);
      else assert.equal(rn, before.get(key), `${key} stays where it was`);
    }
  });

  it("with balanceFactor, spreads one hot key over several pods instead of loading one", async () => {
    const pods = servers.slice(0, 4);
    const port = Number(pods[0]!.address.split(":")[1]);
    const resolver = new FakeResolver();
    resolver.push(pods.map((p) => ({ host: p.address.split(":")[0]!, port })));
    const pool = await readyPool(
      pools,
      { policy: "ring_hash", policyConfig: { requestHashHeader: "x-user", balanceFactor: 1.25 } },
      4,
      resolver,
    );
    const client = createClient(Rng, pool);
    const served = new Map<bigint, number>();
    // 16 calls in flight, all on one key: at most 1.25 × 16 / 4 = 5 per pod.
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = 0; i < 40; i++) {
          const rn = (await client.rng({}, { headers: { "x-user": "hot" } })).RN;
          served.set(rn, (served.get(rn) ?? 0) + 1);
        }
      }),
    );
    assert.ok(served.size >= 3, `the hot key's calls went to ${served.size} pods`);
    const top = Math.max(...served.values());
    assert.ok(top < 0.6 * 640, `no pod took most of them: ${[...served.values()].join(", ")}`);
  });
});
