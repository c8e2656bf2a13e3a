/**
 * Zone-aware routing end to end: real rng-server processes on 127.0.0.x,
 * their zones, nodes, hints and conditions served as EndpointSlices by the
 * list/watch API server of kubernetes-suite.ts, the `kubernetes:`
 * resolver reading them and the `locality` layer routing real calls.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConnectError } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, METRIC, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { collect, testMeter, total } from "@rngbalance/testkit/metrics";
import type { Address } from "../src/resolver/address.js";
import { KubernetesResolver } from "../src/resolver/kubernetes-resolver.js";
import type { Resolution } from "../src/resolver/resolver.js";
import { FakeApiServer, kubeConfigFor, type TopologyEndpoint } from "./kubernetes-suite.js";
import { freePort, until } from "./support.js";

const hostOf = (a: Address | undefined) => (a && "host" in a ? a.host : undefined);

describe("kubernetes: resolver topology fields against a real list/watch API server", () => {
  const api = new FakeApiServer();
  let server: string;
  before(async () => {
    server = await api.start();
  });
  after(() => api.close());

  /** The resolver's resolutions and errors while `run` changes the slices. */
  async function watch(
    clientNode: string | undefined,
    run: (
      latest: () => Resolution | undefined,
      all: readonly Resolution[],
      warned: readonly ConnectError[],
    ) => Promise<void>,
  ) {
    const resolutions: Resolution[] = [];
    const errors: ConnectError[] = [];
    const warnings: ConnectError[] = [];
    const resolver = new KubernetesResolver({
      service: "topo",
      namespace: "demo",
      port: "grpc",
      kubeConfig: kubeConfigFor(server),
      initialBackoffMs: 50,
      maxBackoffMs: 200,
      clientNode,
    });
    resolver.start({
      onResolution: (r) => resolutions.push(r),
      onResolutionError: (e) => errors.push(e),
      onWarning: (w) => warnings.push(w),
    });
    try {
      await run(() => resolutions.at(-1), resolutions, warnings);
    } finally {
      resolver.close();
    }
    return { errors, warnings };
  }

  it("passes zone, nodeName and hints.forZones on as address attributes, and the client's Node zone", async () => {
    api.nodes.set("node-a1", { "topology.kubernetes.io/zone": "zone-a" });
    api.upsertEndpoints(
      "topo-1",
      [
        { ip: "10.2.0.1", zone: "zone-a", nodeName: "node-a1", forZones: ["zone-a"] },
        { ip: "10.2.0.2", zone: "zone-b", nodeName: "node-b1" },
        { ip: "10.2.0.3" },
      ],
      { service: "topo" },
    );
    await watch("node-a1", async (latest) => {
      await until(() => latest() !== undefined, 5000, "first resolution");
      const r = latest() as Resolution;
      assert.equal(r.clientZone, "zone-a");
      assert.deepEqual(
        r.addresses.map((a) => a.attributes),
        [
          { zone: "zone-a", nodeName: "node-a1", forZones: ["zone-a"] },
          { zone: "zone-b", nodeName: "node-b1" },
          undefined,
        ],
      );
    });
    assert.ok(api.requests.includes("GET /api/v1/nodes/node-a1"));
  });

  it("uses serving-but-terminating endpoints only while none is ready (kube-proxy's rule)", async () => {
    const slice = (eps: TopologyEndpoint[]) => api.upsertEndpoints("topo-1", eps, { service: "topo" });
    slice([
      { ip: "10.2.0.1", zone: "zone-a" },
      { ip: "10.2.0.2", zone: "zone-a", ready: false, serving: true, terminating: true },
      { ip: "10.2.0.3", zone: "zone-a", ready: false, serving: false, terminating: true },
    ]);
    await watch(undefined, async (latest) => {
      await until(() => latest() !== undefined, 5000, "first resolution");
      assert.deepEqual(latest()?.addresses.map(hostOf), ["10.2.0.1"]);
      // The ready pod goes: the draining but serving one is used, marked terminating; the non-serving one never.
      slice([
        { ip: "10.2.0.2", zone: "zone-a", ready: false, serving: true, terminating: true },
        { ip: "10.2.0.3", zone: "zone-a", ready: false, serving: false, terminating: true },
      ]);
      await until(() => hostOf(latest()?.addresses[0]) === "10.2.0.2", 3000, "terminating fallback");
      assert.deepEqual(latest()?.addresses, [
        { host: "10.2.0.2", port: 8081, attributes: { zone: "zone-a", terminating: true } },
      ]);
      slice([
        { ip: "10.2.0.4", zone: "zone-b" },
        { ip: "10.2.0.2", zone: "zone-a", ready: false, serving: true, terminating: true },
      ]);
      await until(() => hostOf(latest()?.addresses[0]) === "10.2.0.4", 3000, "ready again");
      assert.equal(latest()?.addresses.length, 1);
    });
  });

  it("a Node it cannot read is a warning (once, saying what to fix), never a resolution error; the list is published; a later relist reads the zone", async () => {
    api.upsertEndpoints("topo-1", [{ ip: "10.2.0.7", zone: "zone-c" }], { service: "topo" });
    const { errors, warnings } = await watch("node-later", async (latest, all, warned) => {
      await until(() => latest() !== undefined, 5000, "resolution");
      assert.equal(latest()?.clientZone, undefined);
      await until(() => warned.length > 0, 5000, "the warning");
      // A relist (after 410 Gone) with the Node still unreadable: no second warning.
      await until(() => api.openWatches > 0, 5000, "watch open");
      const before = all.length;
      api.dropWatches();
      api.upsertEndpoints("topo-1", [{ ip: "10.2.0.6", zone: "zone-c" }], { service: "topo" });
      api.compact();
      await until(() => all.length > before && api.openWatches > 0, 5000, "relisted");
      await until(
        () => api.requests.filter((r) => r === "GET /api/v1/nodes/node-later").length >= 2,
        5000,
        "looked up again",
      );
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(warned.length, 1, "reported once, not on every relist");
      // The Node appears; a relist (after 410 Gone) reads it again.
      api.nodes.set("node-later", { "topology.kubernetes.io/zone": "zone-c" });
      await until(() => api.openWatches > 0, 5000, "watch open");
      api.dropWatches();
      api.upsertEndpoints("topo-1", [{ ip: "10.2.0.9", zone: "zone-c" }], { service: "topo" });
      api.compact();
      api.upsertEndpoints("topo-1", [{ ip: "10.2.0.8", zone: "zone-c" }], { service: "topo" });
      await until(() => latest()?.clientZone === "zone-c", 5000, "zone read on the relist");
    });
    assert.deepEqual(
      errors.map((e) => e.rawMessage),
      [],
      "zone routing is optional: no resolution error",
    );
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]?.rawMessage ?? "",
      /cannot read the zone of Node node-later .*"get" on "nodes".*RNG_ZONE/,
    );
  });
});

describe("zone-aware routing over real rng-server processes", () => {
  const api = new FakeApiServer();
  // Zones a, b, c with 2 pods each, on 127.0.0.71-76.
  const zones = ["a", "a", "b", "b", "c", "c"];
  let pods: RngServerProcess[];
  let port: number;
  let pool: PoolTransport;

  const publish = (ready: (i: number) => Partial<TopologyEndpoint> = () => ({})) =>
    api.upsertEndpoints(
      "rng-zones",
      pods.map((p, i) => ({
        ip: p.address.split(":")[0] as string,
        zone: `zone-${zones[i]}`,
        nodeName: `node-${zones[i]}${i % 2}`,
        ...ready(i),
      })),
      { port },
    );
  /** Calls answered per zone, in `n` calls. */
  const callZones = async (n: number): Promise<Record<string, number>> => {
    const client = createClient(Rng, pool);
    const out: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const rn = (await client.rng({})).RN;
      const z = zones[pods.findIndex((p) => p.rn === rn)] ?? "?";
      out[z] = (out[z] ?? 0) + 1;
    }
    return out;
  };
  const readyCount = () => pool.stats().endpoints.filter((e) => e.state === ConnectivityState.READY).length;
  const meter = testMeter();
  /** What the locality metrics say now: attempts by where they went, and the planned local share. */
  const localityMetrics = async () => {
    const m = await collect(meter.reader);
    return {
      local: total(m, METRIC.localityAttempts, { "rngbalance.locality": "local" }),
      otherZones: total(m, METRIC.localityAttempts, { "rngbalance.locality": "other_zone" }),
      localShare: m.get(METRIC.localityLocalShare)?.points.map((p) => p.value),
    };
  };

  before(async () => {
    port = await freePort();
    pods = await Promise.all(zones.map((_, i) => spawnRngServer({ host: `127.0.0.${71 + i}`, port })));
    api.nodes.set("node-a0", { "topology.kubernetes.io/zone": "zone-a" });
    publish();
    const kubeConfig = kubeConfigFor(await api.start());
    pool = createPoolTransport({
      target: "kubernetes:///rng-headless.demo:grpc",
      kubeConfig,
      authority: "rng-headless.demo:8081",
      connect: "eager",
      // The zone comes from the client's Node, as with NODE_NAME from the downward API.
      locality: { nodeName: "node-a0" },
      telemetry: { meterProvider: meter.provider },
    });
  });
  after(async () => {
    await pool?.close();
    await api.close();
    await Promise.all((pods ?? []).map((p) => p.stop()));
  });

  it("keeps every call in the client's zone while it is healthy", async () => {
    await until(() => readyCount() === 6, 15_000, "6 READY pods");
    const before = pool.stats().locality?.attempts ?? { local: 0, otherZones: 0 };
    assert.deepEqual(await callZones(300), { a: 300 });
    const stats = pool.stats().locality;
    assert.equal(stats?.zone, "zone-a", "learned from the client's Node");
    assert.equal(stats?.localShare, 1);
    assert.deepEqual(stats?.attempts, { local: before.local + 300, otherZones: 0 });
    assert.deepEqual(await localityMetrics(), { ...stats?.attempts, localShare: [1] });
  });

  it("spills in proportion when a local pod is not ready: keeps p/s = (1/5)/(1/3) = 60 %", async () => {
    publish((i) => (i === 0 ? { ready: false } : {}));
    await until(() => pool.stats().endpoints.length === 5, 5000, "5 endpoints");
    await until(() => readyCount() === 5, 5000, "5 READY");
    const before = pool.stats().locality?.attempts ?? { local: 0, otherZones: 0 };
    const counts = await callZones(1000);
    const local = (counts.a ?? 0) / 1000;
    // Every attempt counted where it went; the planned share is the rule's 60 %.
    const stats = pool.stats().locality;
    assert.deepEqual(stats?.attempts, {
      local: before.local + (counts.a ?? 0),
      otherZones: before.otherZones + (counts.b ?? 0) + (counts.c ?? 0),
    });
    assert.ok(Math.abs((stats?.localShare ?? 0) - 0.6) < 1e-9, `planned local share ${stats?.localShare}`);
    const metrics = await localityMetrics();
    assert.equal(metrics.local, stats?.attempts.local);
    assert.equal(metrics.otherZones, stats?.attempts.otherZones);
    assert.ok(
      local > 0.5 && local < 0.7,
      `local share ${local} (expected about 0.6): ${JSON.stringify(counts)}`,
    );
    assert.ok((counts.b ?? 0) > 100 && (counts.c ?? 0) > 100, JSON.stringify(counts));
  });

  it("follows topology hints (trafficDistribution): the endpoints hinted for zone a are local, wherever they run", async () => {
    // As Kubernetes' topology-aware routing may allot: one of zone a's pods to zone c, one of zone b's to zone a.
    const forZones = ["zone-a", "zone-c", "zone-a", "zone-b", "zone-c", "zone-b"];
    publish((i) => ({ forZones: [forZones[i] as string] }));
    await until(() => readyCount() === 6, 5000, "6 READY");
    const client = createClient(Rng, pool);
    const seen = new Map<bigint, number>();
    for (let i = 0; i < 300; i++) {
      const rn = (await client.rng({})).RN;
      seen.set(rn, (seen.get(rn) ?? 0) + 1);
    }
    assert.deepEqual(
      [...seen.keys()].sort(),
      [pods[0]?.rn, pods[2]?.rn].sort(),
      "only the two pods hinted for zone-a",
    );
  });

  it("serves from terminating pods only while no pod is ready", async () => {
    // Every pod draining; only zone b's still serving.
    publish((i) => ({ ready: false, serving: zones[i] === "b", terminating: true }));
    await until(() => pool.stats().endpoints.length === 2, 5000, "the 2 serving-terminating pods");
    await until(() => readyCount() === 2, 5000, "READY");
    assert.deepEqual(await callZones(50), { b: 50 });
    // One ready pod in zone c comes back: the draining ones leave at once.
    publish((i) => (i === 4 ? {} : { ready: false, serving: zones[i] === "b", terminating: true }));
    await until(() => pool.stats().endpoints.length === 1 && readyCount() === 1, 5000, "the ready pod alone");
    assert.deepEqual(await callZones(50), { c: 50 });
  });
});
