import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, encodeBinaryHeader } from "@connectrpc/connect";
import { OrcaLoadReportSchema } from "@rngbalance/grpc-protos/xds/data/orca/v3";
import {
  LOCALITY_DEFAULTS,
  type LocalityOptions,
  type LocalityPicker,
  LocalityPolicy,
  resolveLocality,
} from "../../src/balancer/locality.js";
import { ORCA_TRAILER } from "../../src/balancer/orca.js";
import type { CallResult } from "../../src/balancer/picker.js";
import { PickFirstPolicy, RoundRobinPolicy } from "../../src/balancer/policies.js";
import { hashKey, RingHashPolicy } from "../../src/balancer/ring-hash.js";
import { EndpointSet } from "../../src/call/endpoint-set.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { resolvePoolOptions, resolverOptions } from "../../src/options-resolve.js";
import {
  buildPicker,
  FakeClock,
  FakeEndpoint,
  FakeResolver,
  pickShares,
  zonedEndpoints,
} from "../../src/testing/index.js";

const N = 30_000;

function policy(options: LocalityOptions = {}, clock = new FakeClock()): LocalityPolicy<FakeEndpoint> {
  return new LocalityPolicy<FakeEndpoint>(() => new RoundRobinPolicy(), resolveLocality(options, {}), clock);
}

/** Each zone's share of `n` picks (by the endpoints' attributes). */
function zoneShares(picker: { pick(): FakeEndpoint | undefined }, n = N): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const z = picker.pick()?.attributes?.zone ?? "-";
    out[z] = (out[z] ?? 0) + 1 / n;
  }
  return out;
}

const report = (utilization: number): CallResult => ({
  latencyMs: 1,
  ok: true,
  code: undefined,
  trailers: new Headers({
    [ORCA_TRAILER]: encodeBinaryHeader(
      toBinary(
        OrcaLoadReportSchema,
        create(OrcaLoadReportSchema, { rpsFractional: 100, applicationUtilization: utilization }),
      ),
    ),
  }),
});

describe("locality options", () => {
  it("take the zone from the option, else RNG_ZONE, else POD_ZONE; the node from NODE_NAME", () => {
    assert.equal(resolveLocality({ zone: "a" }, { RNG_ZONE: "b" }).zone, "a");
    assert.equal(resolveLocality({}, { RNG_ZONE: "b", POD_ZONE: "c" }).zone, "b");
    assert.equal(resolveLocality({}, { POD_ZONE: "c" }).zone, "c");
    assert.equal(resolveLocality({}, {}).zone, undefined);
    assert.equal(resolveLocality({}, { NODE_NAME: "n1" }).nodeName, "n1");
    const d = resolveLocality({}, {});
    assert.equal(d.minLocalEndpoints, LOCALITY_DEFAULTS.minLocalEndpoints);
    assert.equal(d.utilizationThreshold, 0.8);
    assert.equal(d.hints, true);
  });

  it("reject bad values with InvalidArgument naming the option", () => {
    const bad: [LocalityOptions, RegExp][] = [
      [{ utilizationThreshold: 0 }, /locality\.utilizationThreshold must be a number in \(0, 1\]/],
      [{ utilizationThreshold: 1.5 }, /utilizationThreshold/],
      [{ minLocalEndpoints: -1 }, /locality\.minLocalEndpoints must be an integer >= 0/],
      [{ zone: "" }, /locality\.zone must be a non-empty zone name/],
      [{ zoneShares: { a: -1 } }, /zoneShares\["a"\] must be a number >= 0/],
    ];
    for (const [o, message] of bad) {
      assert.throws(
        () => resolveLocality(o, {}),
        (err: unknown) =>
          err instanceof ConnectError && err.code === Code.InvalidArgument && message.test(err.message),
      );
    }
  });
});

describe("the locality pool option", () => {
  const resolve = (locality: unknown) =>
    resolvePoolOptions({ target: "ipv4:10.0.0.1:80", locality } as never);
  const invalid = (locality: unknown, message: RegExp) =>
    assert.throws(
      () => resolve(locality),
      (err: unknown) =>
        err instanceof ConnectError && err.code === Code.InvalidArgument && message.test(err.rawMessage),
    );

  it("is off unless given; {} turns it on with the defaults", () => {
    assert.equal(resolve(undefined).locality, undefined);
    assert.equal(resolve(false).locality, undefined);
    assert.equal(resolve({ zone: "a" }).locality?.zone, "a");
    assert.equal(resolve({}).locality?.utilizationThreshold, 0.8);
  });

  it("rejects misspelt keys, wrong types and out-of-range values, saying what to write", () => {
    invalid({ zones: "a" }, /unknown option options\.locality\.zones: did you mean zone\?/);
    invalid({ zone: 1 }, /options\.locality\.zone must be a string/);
    invalid(
      { utilizationThreshold: 2 },
      /options\.locality\.utilizationThreshold must be a number in \(0, 1\]/,
    );
    invalid("on", /options\.locality/);
  });

  it("asks the resolver for the client's Node only while the zone is unknown", () => {
    const clientNode = (locality: unknown) => resolverOptions(resolve(locality)).clientNode;
    assert.equal(
      clientNode({ nodeName: "n1" }),
      process.env.RNG_ZONE || process.env.POD_ZONE ? undefined : "n1",
    );
    assert.equal(clientNode({ nodeName: "n1", zone: "a" }), undefined, "the zone is given: no lookup");
    assert.equal(clientNode(undefined), undefined, "locality off: no lookup");
  });
});

describe("LocalityPolicy", () => {
  it("keeps every call in the client's zone while it has its share of endpoints", () => {
    const p = policy({ zone: "a" });
    const shares = zoneShares(buildPicker(p, zonedEndpoints({ a: 3, b: 3, c: 3 })));
    assert.deepEqual(Object.keys(shares), ["a"]);
  });

  it("spills in proportion when the local zone lost pods (Envoy: keeps p/s, the rest by spare capacity)", () => {
    const p = policy({ zone: "a" });
    // a: 1 of 3 left. p_a = 1/7, s_a = 1/3: keeps 3/7; b and c have spare 3/7 - 1/3 each: 2/7 each.
    const endpoints = zonedEndpoints({ a: 3, b: 3, c: 3 }).filter(
      (e) => e.address !== "10.1.0.1:80" && e.address !== "10.1.0.2:80",
    );
    const shares = zoneShares(buildPicker(p, endpoints));
    assert.ok(Math.abs((shares.a ?? 0) - 3 / 7) < 0.02, `a ${shares.a}`);
    assert.ok(Math.abs((shares.b ?? 0) - 2 / 7) < 0.02, `b ${shares.b}`);
    assert.ok(Math.abs((shares.c ?? 0) - 2 / 7) < 0.02, `c ${shares.c}`);
    // With every zone's clients doing the same, each pod carries the same load.
    const perPod = pickShares(buildPicker(p, endpoints), N);
    assert.ok(Math.abs((perPod.get("10.1.0.3:80") ?? 0) - 3 / 7) < 0.02);
  });

  it("counts only READY endpoints: a zone whose pods are connecting spills too", () => {
    const endpoints = zonedEndpoints({ a: 3, b: 3 });
    for (const e of endpoints.slice(0, 2)) e.state = S.CONNECTING;
    const shares = zoneShares(buildPicker(policy({ zone: "a" }), endpoints));
    // p_a = 1/4, s_a = 1/2: keeps 1/2.
    assert.ok(Math.abs((shares.a ?? 0) - 0.5) < 0.02, `a ${shares.a}`);
  });

  it("sends everything elsewhere below minLocalEndpoints, and when the zone has none", () => {
    const endpoints = zonedEndpoints({ a: 2, b: 3, c: 3 });
    endpoints[0]!.state = S.TRANSIENT_FAILURE;
    assert.equal(
      zoneShares(buildPicker(policy({ zone: "a", minLocalEndpoints: 2 }), endpoints)).a,
      undefined,
    );
    const none = zonedEndpoints({ b: 3, c: 3 });
    const shares = zoneShares(buildPicker(policy({ zone: "a" }), none));
    assert.ok(Math.abs((shares.b ?? 0) - 0.5) < 0.02, `b ${shares.b}`);
  });

  it("weighs zones by zoneShares: a zone with more clients needs more endpoints to keep them", () => {
    // a has 2/3 of the clients but 1/3 of the endpoints: keeps (1/3)/(2/3) = 1/2.
    const shares = zoneShares(
      buildPicker(policy({ zone: "a", zoneShares: { a: 2, b: 1 } }), zonedEndpoints({ a: 2, b: 4 })),
    );
    assert.ok(Math.abs((shares.a ?? 0) - 0.5) < 0.02, `a ${shares.a}`);
  });

  it("spills when local pods report utilization above the threshold (ORCA), and not on stale reports", () => {
    const clock = new FakeClock();
    const p = policy(
      { zone: "a", utilizationThreshold: 0.8, updatePeriodMs: 100, reportMaxAgeMs: 5000 },
      clock,
    );
    const endpoints = zonedEndpoints({ a: 3, b: 3, c: 3 });
    const picker = buildPicker(p, endpoints) as LocalityPicker<FakeEndpoint>;
    assert.equal(picker.currentWeights().get("local"), 1);
    // Two local pods saturated (u = 1: no capacity), one at 0.5.
    picker.onDone(endpoints[0]!, report(1));
    picker.onDone(endpoints[1]!, report(1));
    picker.onDone(endpoints[2]!, report(0.5));
    clock.advance(100);
    const w = picker.currentWeights();
    assert.ok(Math.abs((w.get("local") ?? 0) - 3 / 7) < 1e-9, `local ${w.get("local")}`);
    assert.ok(Math.abs((w.get("b") ?? 0) - 2 / 7) < 1e-9);
    // Half-way above the threshold: half an endpoint.
    picker.onDone(endpoints[0]!, report(0.9));
    picker.onDone(endpoints[1]!, report(0.9));
    clock.advance(100);
    // cap_a = 2, p_a = 2/8 = 1/4 < 1/3: keeps 3/4.
    assert.ok(Math.abs((picker.currentWeights().get("local") ?? 0) - 0.75) < 1e-9);
    clock.advance(5001);
    assert.equal(picker.currentWeights().get("local"), 1, "stale reports no longer count");
  });

  it("ignores reports with utilizationThreshold 1", () => {
    const clock = new FakeClock();
    const p = policy({ zone: "a", utilizationThreshold: 1, updatePeriodMs: 10 }, clock);
    const endpoints = zonedEndpoints({ a: 1, b: 1 });
    const picker = buildPicker(p, endpoints) as LocalityPicker<FakeEndpoint>;
    picker.onDone(endpoints[0]!, report(1));
    clock.advance(10);
    assert.equal(picker.currentWeights().get("local"), 1);
  });

  it("uses terminating-but-serving endpoints only when no other is READY", () => {
    const endpoints = zonedEndpoints({ a: 2, b: 2 });
    endpoints[0]!.attributes = { zone: "a", terminating: true };
    const p = policy({ zone: "a" });
    const shares = pickShares(buildPicker(p, endpoints), 1000);
    assert.equal(shares.get("10.1.0.1:80"), undefined, "a draining pod gets nothing while others serve");
    const draining = zonedEndpoints({ a: 2 });
    for (const e of draining) e.attributes = { zone: "a", terminating: true };
    assert.equal(
      pickShares(buildPicker(p, draining), 1000).get("-"),
      undefined,
      "all draining: still served",
    );
  });

  it("follows topology hints (trafficDistribution) when every endpoint has them", () => {
    const endpoints = zonedEndpoints({ a: 1, b: 2 });
    // Kubernetes hinted one of b's pods for zone a (topology-aware routing balancing zones).
    endpoints[0]!.attributes = { zone: "a", forZones: ["a"] };
    endpoints[1]!.attributes = { zone: "b", forZones: ["a"] };
    endpoints[2]!.attributes = { zone: "b", forZones: ["b"] };
    const shares = pickShares(buildPicker(policy({ zone: "a" }), endpoints), 10_000);
    assert.ok(Math.abs((shares.get("10.1.0.1:80") ?? 0) - 0.5) < 0.03);
    assert.ok(Math.abs((shares.get("10.2.0.1:80") ?? 0) - 0.5) < 0.03);
    assert.equal(shares.get("10.2.0.2:80"), undefined);
    // hints: false groups by zone again: a has 1/3 of the endpoints for 1/2 of the clients, keeps 2/3.
    const byZone = pickShares(buildPicker(policy({ zone: "a", hints: false }), endpoints), 10_000);
    assert.ok(Math.abs((byZone.get("10.1.0.1:80") ?? 0) - 2 / 3) < 0.03);
  });

  it("is off while the zone is unknown, and learns it from an endpoint on its node or the resolver", () => {
    const endpoints = zonedEndpoints({ a: 3, b: 3 });
    assert.equal(Object.keys(zoneShares(buildPicker(policy(), endpoints))).length, 2);
    endpoints[4]!.attributes = { zone: "b", nodeName: "node-7" };
    const p = policy({ nodeName: "node-7" });
    assert.deepEqual(Object.keys(zoneShares(buildPicker(p, endpoints))), ["b"]);
    assert.equal(p.zone, "b");
    const q = policy();
    q.onClientZone("a");
    assert.deepEqual(Object.keys(zoneShares(buildPicker(q, endpoints))), ["a"]);
  });

  it("passes the wrapped policy's hooks on: releaseUnwanted, stickyTransientFailure, attach to every zone's instance", () => {
    let made = 0;
    const attached: number[] = [];
    const p = new LocalityPolicy<FakeEndpoint>(
      () => {
        const id = made++;
        const rr = new RoundRobinPolicy<FakeEndpoint>();
        return {
          name: "wrapped",
          releaseUnwanted: true,
          stickyTransientFailure: true,
          attach: () => attached.push(id),
          buildPicker: (ready, all) => rr.buildPicker(ready, all),
        };
      },
      resolveLocality({ zone: "a" }, {}),
      new FakeClock(),
    );
    assert.equal(p.name, "wrapped");
    assert.equal(p.releaseUnwanted, true);
    assert.equal(p.stickyTransientFailure, true);
    p.attach(() => {});
    buildPicker(p, zonedEndpoints({ a: 1, b: 1, c: 1 }));
    assert.deepEqual(attached.sort(), [0, 1, 2], "the local instance at once, the others when made");
  });

  it("picks in another zone when the chosen zone's picker has nothing", () => {
    const endpoints = zonedEndpoints({ a: 1, b: 1 });
    endpoints[0]!.state = S.TRANSIENT_FAILURE;
    assert.equal(pickShares(buildPicker(policy({ zone: "a" }), endpoints), 100).get("10.2.0.1:80"), 1);
  });
});

describe("LocalityPolicy in an EndpointSet fed by a FakeResolver", () => {
  it("takes zones from the addresses' attributes and updates them in place (a pod that starts terminating)", () => {
    const p = policy({ zone: "a" });
    const set = new EndpointSet<FakeEndpoint>(
      "fake:zones",
      p,
      (address) => {
        const e = new FakeEndpoint(`${(address as { host: string }).host}:80`);
        e.state = S.READY;
        return e;
      },
      { onResolution: () => {}, onResolutionError: () => {}, onStateChange: () => {} },
      true,
    );
    const resolver = new FakeResolver();
    resolver.start(set);
    const at = (host: string, zone: string, terminating = false) => ({
      host,
      port: 80,
      attributes: terminating ? { zone, terminating } : { zone },
    });
    resolver.push([at("10.0.0.1", "a"), at("10.0.0.2", "b")]);
    assert.equal(pickShares(set.picker, 100).get("10.0.0.1:80"), 1);
    const first = set.get("10.0.0.1:80");
    resolver.push([at("10.0.0.1", "a", true), at("10.0.0.2", "b")]);
    assert.equal(set.get("10.0.0.1:80"), first, "same endpoint, new attributes");
    assert.equal(pickShares(set.picker, 100).get("10.0.0.2:80"), 1, "the draining local pod yields to b");
    set.close();
  });
});

describe("locality layer over policies that keep state per endpoint list (review fixes)", () => {
  it("passes the call's PickInfo to the group's picker: ring_hash keeps one key on one endpoint", () => {
    const clock = new FakeClock();
    const layer = new LocalityPolicy<FakeEndpoint>(
      () => new RingHashPolicy(),
      resolveLocality({ zone: "a" }, {}),
      clock,
    );
    const endpoints = zonedEndpoints({ a: 5, b: 3 });
    const picker = buildPicker(layer, endpoints);
    const info = { header: undefined, contextValues: createContextValues().set(hashKey, "user-42") };
    const picked = new Set(Array.from({ length: 100 }, () => picker.pick(info)?.address));
    assert.equal(picked.size, 1, `one endpoint for one key, got ${[...picked].join(", ")}`);
  });

  it("pick_first under it: the Happy Eyeballs stagger fires and the shuffle happens once per endpoint list, not per rebuild", () => {
    const clock = new FakeClock();
    let draws = 0;
    const random = () => {
      draws++;
      return (draws * 0.37) % 1;
    };
    const layer = new LocalityPolicy<FakeEndpoint>(
      () =>
        new PickFirstPolicy<FakeEndpoint>(
          undefined,
          { shuffleAddressList: true, connectionAttemptDelayMs: 250 },
          clock,
          random,
        ),
      resolveLocality({ zone: "a" }, {}),
      clock,
    );
    let updates = 0;
    layer.attach(() => updates++);
    const endpoints = zonedEndpoints({ a: 4 }, S.CONNECTING);
    const first = layer.wanted(endpoints).map((e) => e.address);
    assert.equal(first.length, 1, "one attempt to start with");
    const drawsAfterFirst = draws;
    for (let i = 0; i < 5; i++) {
      buildPicker(layer, endpoints);
      assert.deepEqual(
        layer.wanted(endpoints).map((e) => e.address),
        first,
        "same list: same order",
      );
    }
    assert.equal(draws, drawsAfterFirst, "no reshuffle on rebuilds");
    clock.advance(250);
    assert.equal(updates, 1, "the stagger asked the pool to rebuild");
    assert.equal(layer.wanted(endpoints).length, 2, "a second attempt beside the first");
  });
});
