import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { seededRandom, zipfSampler } from "@rngbalance/testkit";
import type { Picker, PickInfo } from "../../src/balancer/picker.js";
import { resolvePolicyOptions } from "../../src/balancer/policy-options.js";
import { createPolicy, registeredPolicies } from "../../src/balancer/registry.js";
import {
  buildRing,
  entriesFor,
  hashKey,
  headerValue,
  KeyHashes,
  RING_HASH_DEFAULTS,
  RingHashPolicy,
  resolveRingHashConfig,
  ringIndex,
} from "../../src/balancer/ring-hash.js";
import { xxhash64String } from "../../src/balancer/xxhash64.js";
import { PickQueue, type PickSource } from "../../src/call/pick-queue.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { buildPicker, FakeClock, type FakeEndpoint, fakeEndpoints } from "../../src/testing/index.js";

const byKey = (key: string): PickInfo => ({
  header: undefined,
  contextValues: createContextValues().set(hashKey, key),
});

function pickKey(picker: Picker<FakeEndpoint>, key: string): string {
  return picker.pick(byKey(key))?.address ?? "-";
}

/** Which endpoint each of `keys` goes to. */
function owners(picker: Picker<FakeEndpoint>, keys: readonly string[]): Map<string, string> {
  return new Map(keys.map((k) => [k, pickKey(picker, k)]));
}

const KEYS = Array.from({ length: 2000 }, (_, i) => `user-${i}`);

function rejectsWith(fn: () => unknown, pattern: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) =>
      e instanceof ConnectError && e.code === Code.InvalidArgument && pattern.test(e.rawMessage),
  );
}

describe("xxhash64", () => {
  it("matches the reference XXH64 (seed 0) for short and long inputs (values from xxhsum -H1)", () => {
    const cases: [string, string][] = [
      ["", "ef46db3751d8e999"],
      ["a", "d24ec4f1a98c6e5b"],
      ["abc", "44bc2cf5ad770999"],
      ["10.0.0.1:8081_0", "bf522c8b09bfec73"],
      ["the quick brown fox jumps over the lazy dog, twice!!", "09dd9bb2407fe1fb"],
    ];
    for (const [input, hex] of cases) {
      assert.equal(xxhash64String(input).toString(16).padStart(16, "0"), hex, JSON.stringify(input));
    }
  });
});

describe("KeyHashes", () => {
  it("gives XXH64 of each key, whether cached or not, past its limit too", () => {
    const cache = new KeyHashes(3);
    for (let round = 0; round < 2; round++) {
      for (const key of ["a", "b", "c", "d", "a"]) assert.equal(cache.of(key), xxhash64String(key));
    }
  });
});

describe("ring_hash ring", () => {
  it('gives each endpoint its entries, XXH64("<address>_<k>") as in Envoy and gRPC, sorted by hash', () => {
    const ring = buildRing(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"], 342);
    assert.equal(ring.hashes.length, 3 * 342);
    for (let owner = 0; owner < 3; owner++) {
      assert.equal(ring.owners.filter((o) => o === owner).length, 342);
    }
    for (let i = 1; i < ring.hashes.length; i++) assert.ok(ring.hashes[i - 1]! <= ring.hashes[i]!);
    assert.ok(ring.hashes.includes(xxhash64String("10.0.0.2:80_341")));
    assert.ok(!ring.hashes.includes(xxhash64String("10.0.0.2:80_342")));
  });

  it("sizes the ring by entriesPerEndpoint, or by A42's minRingSize when set, within maxRingSize", () => {
    const config = (c: object) => ({ ...RING_HASH_DEFAULTS, ...c });
    // The default: the same count for any number of endpoints, until maxRingSize caps it.
    assert.deepEqual(
      [1, 3, 10, 64].map((n) => entriesFor(n, RING_HASH_DEFAULTS)),
      [256, 256, 256, 256],
    );
    assert.equal(entriesFor(100, RING_HASH_DEFAULTS), 163);
    // A42 / Envoy / grpc-go: ⌈1024 / n⌉ each (a ring of 1026 for 3 endpoints, 1030 for 10).
    const a42 = config({ entriesPerEndpoint: 1, minRingSize: 1024, maxRingSize: 4096 });
    assert.deepEqual(
      [3, 9, 10].map((n) => entriesFor(n, a42)),
      [342, 114, 103],
    );
    assert.equal(entriesFor(5000, a42), 1, "at least one entry each");
  });

  it("finds the first entry at or after a hash, wrapping past the last", () => {
    const hashes = BigUint64Array.from([10n, 20n, 30n]);
    assert.deepEqual(
      [0n, 10n, 11n, 30n, 31n].map((h) => ringIndex(hashes, h)),
      [0, 0, 1, 2, 0],
    );
  });
});

describe("ring_hash picks", () => {
  it("sends a key to the same endpoint every time, and the keys over every endpoint", () => {
    const policy = new RingHashPolicy<FakeEndpoint>();
    const endpoints = fakeEndpoints(4);
    const picker = buildPicker(policy, endpoints);
    const first = owners(picker, KEYS);
    for (let round = 0; round < 3; round++) assert.deepEqual(owners(picker, KEYS), first);
    // A new picker (any state change) over the same endpoints maps keys the same way.
    endpoints[0]!.inFlight = 7;
    assert.deepEqual(owners(buildPicker(policy, endpoints), KEYS), first);
    const counts = new Map<string, number>();
    for (const a of first.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
    assert.equal(counts.size, 4);
    for (const [a, n] of counts) assert.ok(n > 0.15 * KEYS.length && n < 0.35 * KEYS.length, `${a}: ${n}`);
  });

  it("moves about 1/10 of the keys, all to the new endpoint, when a tenth endpoint joins", () => {
    const endpoints = fakeEndpoints(10);
    const policy = new RingHashPolicy<FakeEndpoint>();
    const before = owners(buildPicker(policy, endpoints.slice(0, 9)), KEYS);
    const after = owners(buildPicker(policy, endpoints), KEYS);
    const moved = KEYS.filter((k) => before.get(k) !== after.get(k));
    for (const k of moved) assert.equal(after.get(k), endpoints[9]!.address);
    const share = moved.length / KEYS.length;
    assert.ok(share > 0.06 && share < 0.14, `moved ${share}`);
    // And back: the keys return to where they were.
    assert.deepEqual(owners(buildPicker(policy, endpoints.slice(0, 9)), KEYS), before);
    // A42's sizing (⌈1024 / n⌉ each) resizes every endpoint's share too: more keys move, some between old endpoints.
    const a42 = new RingHashPolicy<FakeEndpoint>({
      ...RING_HASH_DEFAULTS,
      entriesPerEndpoint: 1,
      minRingSize: 1024,
    });
    const a42Before = owners(buildPicker(a42, endpoints.slice(0, 9)), KEYS);
    const a42After = owners(buildPicker(a42, endpoints), KEYS);
    const a42Moved = KEYS.filter((k) => a42Before.get(k) !== a42After.get(k));
    assert.ok(a42Moved.some((k) => a42After.get(k) !== endpoints[9]!.address));
    assert.ok(a42Moved.length > moved.length, `${a42Moved.length} vs ${moved.length}`);
  });

  it("takes the key from the configured header (any HeadersInit form, any case), the context value first", () => {
    const policy = new RingHashPolicy<FakeEndpoint>({ ...RING_HASH_DEFAULTS, requestHashHeader: "x-user" });
    const picker = buildPicker(policy, fakeEndpoints(5));
    const expected = pickKey(picker, "alice");
    const forms: PickInfo["header"][] = [
      { "X-User": "alice" },
      [["x-user", "alice"]],
      new Headers({ "x-user": "alice" }),
    ];
    for (const header of forms) {
      for (let i = 0; i < 20; i++) {
        assert.equal(picker.pick({ header, contextValues: undefined })?.address, expected);
      }
    }
    const bob = pickKey(picker, "bob");
    assert.equal(
      picker.pick({ header: { "x-user": "alice" }, contextValues: byKey("bob").contextValues })?.address,
      bob,
    );
    assert.equal(
      headerValue(
        [
          ["x-user", "a"],
          ["X-USER", "b"],
        ],
        "x-user",
      ),
      "a, b",
    );
    assert.equal(
      headerValue(
        new Headers([
          ["x-user", "a"],
          ["x-user", "b"],
        ]),
        "x-user",
      ),
      "a, b",
    );
  });

  it("spreads calls without a key (no header, or not configured) over the READY endpoints at random", () => {
    const policy = new RingHashPolicy<FakeEndpoint>({ ...RING_HASH_DEFAULTS, requestHashHeader: "x-user" });
    const endpoints = fakeEndpoints(4);
    endpoints[3]!.state = S.TRANSIENT_FAILURE;
    const picker = buildPicker(policy, endpoints);
    const seen = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const a = picker.pick({ header: { "x-other": "alice" }, contextValues: undefined })?.address ?? "-";
      seen.set(a, (seen.get(a) ?? 0) + 1);
    }
    assert.deepEqual(
      [...seen.keys()].sort(),
      endpoints.slice(0, 3).map((e) => e.address),
    );
    for (const n of seen.values()) assert.ok(n > 800, `${n}`);
    // Without a configured header, the header means nothing.
    const plain = buildPicker(new RingHashPolicy<FakeEndpoint>(), endpoints);
    const spread = new Set(
      Array.from(
        { length: 200 },
        () => plain.pick({ header: { "x-user": "a" }, contextValues: undefined })?.address,
      ),
    );
    assert.equal(spread.size, 3);
  });

  it("skips a failing endpoint until it is READY again (sticky through CONNECTING), then its keys come back", () => {
    const policy = new RingHashPolicy<FakeEndpoint>();
    const endpoints = fakeEndpoints(4);
    const healthy = owners(buildPicker(policy, endpoints), KEYS);
    const victim = endpoints[1]!;
    const itsKeys = KEYS.filter((k) => healthy.get(k) === victim.address);
    assert.ok(itsKeys.length > 0);
    victim.state = S.TRANSIENT_FAILURE;
    const failing = owners(buildPicker(policy, endpoints), KEYS);
    for (const k of KEYS) {
      if (healthy.get(k) === victim.address) assert.notEqual(failing.get(k), victim.address);
      else assert.equal(failing.get(k), healthy.get(k), "other keys stay");
    }
    // Reconnecting after the failure: still skipped (A42's sticky TRANSIENT_FAILURE), not waited for.
    victim.state = S.CONNECTING;
    assert.deepEqual(owners(buildPicker(policy, endpoints), KEYS), failing);
    victim.state = S.READY;
    assert.deepEqual(owners(buildPicker(policy, endpoints), KEYS), healthy);
  });

  it("keeps a doubted endpoint's keys (liveness), while calls without a key avoid it", () => {
    const policy = new RingHashPolicy<FakeEndpoint>();
    const endpoints = fakeEndpoints(3);
    const healthy = owners(buildPicker(policy, endpoints), KEYS);
    // As the endpoint set hands it over: READY endpoints that liveness doubts are left out of `ready`.
    const doubted = endpoints[2]!;
    const picker = policy.buildPicker(
      endpoints.filter((e) => e !== doubted),
      endpoints,
    );
    assert.deepEqual(owners(picker, KEYS), healthy);
    for (let i = 0; i < 300; i++) assert.notEqual(picker.pick()?.address, doubted.address);
  });

  it("makes a keyed call wait for its endpoint while it first connects; other calls go ahead", () => {
    const policy = new RingHashPolicy<FakeEndpoint>();
    const endpoints = fakeEndpoints(3);
    const healthy = owners(buildPicker(policy, endpoints), KEYS);
    endpoints[0]!.state = S.CONNECTING;
    const connecting = owners(buildPicker(policy, endpoints), KEYS);
    for (const k of KEYS) {
      assert.equal(connecting.get(k), healthy.get(k) === endpoints[0]!.address ? "-" : healthy.get(k));
    }
    // No READY endpoint at all: nothing to offer.
    assert.equal(buildPicker(policy, fakeEndpoints(3, S.CONNECTING)).pick(byKey("a")), undefined);
  });

  it("with balanceFactor, walks past an endpoint whose calls in flight would exceed c × the mean", () => {
    const policy = new RingHashPolicy<FakeEndpoint>({ ...RING_HASH_DEFAULTS, balanceFactor: 1.25 });
    const endpoints = fakeEndpoints(4);
    const key = "hot";
    const home = pickKey(buildPicker(policy, endpoints), key);
    const homeEndpoint = endpoints.find((e) => e.address === home)!;
    // 12 in flight elsewhere + 4 at home: 5 after the call ≤ 1.25 × 17 / 4 = 5.31, it takes it.
    for (const e of endpoints) e.inFlight = 4;
    assert.equal(pickKey(buildPicker(policy, endpoints), key), home);
    // 5 at home: 6 > 1.25 × 18 / 4 = 5.625, the call walks on.
    homeEndpoint.inFlight = 5;
    const spilled = pickKey(buildPicker(policy, endpoints), key);
    assert.notEqual(spilled, home);
    // Where it spills is the ring's next endpoint for that key, the same every time.
    assert.equal(pickKey(buildPicker(policy, endpoints), key), spilled);
    // At low loads c × mean is below one call; the least loaded endpoints still fit (⌊total / n⌋ + 1).
    for (const e of endpoints) e.inFlight = 0;
    assert.equal(pickKey(buildPicker(policy, endpoints), key), home);
    homeEndpoint.inFlight = 1;
    assert.notEqual(pickKey(buildPicker(policy, endpoints), key), home);
  });

  it("keeps every endpoint within about balanceFactor × the mean under a Zipf key mix (plain ring_hash does not)", () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
    const zipf = zipfSampler(keys.length, 1.1, seededRandom(7));
    const run = (balanceFactor: number | undefined) => {
      const endpoints = fakeEndpoints(10);
      const policy = new RingHashPolicy<FakeEndpoint>({ ...RING_HASH_DEFAULTS, balanceFactor });
      const picker = buildPicker(policy, endpoints);
      // A closed loop of 200 calls in flight: each step one call ends (the oldest) and a new one starts.
      const inFlight: FakeEndpoint[] = [];
      const served = new Map<FakeEndpoint, number>(endpoints.map((e) => [e, 0]));
      for (let step = 0; step < 40_000; step++) {
        if (inFlight.length === 200) inFlight.shift()!.inFlight--;
        const e = picker.pick(byKey(keys[zipf()]!))!;
        e.inFlight++;
        inFlight.push(e);
        served.set(e, served.get(e)! + 1);
      }
      const counts = [...served.values()];
      return Math.max(...counts) / (counts.reduce((a, b) => a + b, 0) / counts.length);
    };
    const bounded = run(1.25);
    const plain = run(undefined);
    // At most 1.25 × 20.1 = 25.1 in flight, so 25, of a mean of 20.
    assert.ok(bounded <= 1.26, `bounded max/mean ${bounded}`);
    assert.ok(plain > 1.5, `plain max/mean ${plain}`);
  });
});

describe("ring_hash config (policyConfig)", () => {
  it("fills in defaults and takes valid settings", () => {
    assert.deepEqual(resolveRingHashConfig(undefined), RING_HASH_DEFAULTS);
    assert.deepEqual(
      resolveRingHashConfig({
        entriesPerEndpoint: 8,
        minRingSize: 16,
        maxRingSize: 64,
        requestHashHeader: "X-User",
        balanceFactor: 1.5,
      }),
      {
        entriesPerEndpoint: 8,
        minRingSize: 16,
        maxRingSize: 64,
        requestHashHeader: "x-user",
        balanceFactor: 1.5,
      },
    );
    assert.equal(resolveRingHashConfig({ minRingSize: 100_000 }).maxRingSize, 100_000);
  });

  it("rejects bad settings with InvalidArgument saying what to fix", () => {
    rejectsWith(() => resolveRingHashConfig("x-user"), /policyConfig for ring_hash must be an object/);
    rejectsWith(
      () => resolveRingHashConfig({ header: "x" }),
      /policyConfig.header is not a ring_hash setting/,
    );
    rejectsWith(() => resolveRingHashConfig({ minRingSize: 0 }), /minRingSize must be an integer from 1/);
    rejectsWith(
      () => resolveRingHashConfig({ entriesPerEndpoint: 1e6 }),
      /entriesPerEndpoint must be an integer from 1 to 65536/,
    );
    rejectsWith(() => resolveRingHashConfig({ maxRingSize: 1.5 }), /maxRingSize must be an integer/);
    rejectsWith(
      () => resolveRingHashConfig({ minRingSize: 100, maxRingSize: 10 }),
      /must not exceed maxRingSize/,
    );
    rejectsWith(() => resolveRingHashConfig({ requestHashHeader: "x user" }), /must be a header name/);
    rejectsWith(() => resolveRingHashConfig({ requestHashHeader: "x-id-bin" }), /binary header/);
    rejectsWith(() => resolveRingHashConfig({ balanceFactor: 0.9 }), /balanceFactor must be a number >= 1/);
    rejectsWith(() => resolveRingHashConfig({ balanceFactor: Number.NaN }), /balanceFactor/);
  });

  it("is a built-in policy, its config checked when a pool creates it", () => {
    assert.ok(registeredPolicies().includes("ring_hash"));
    const context = (policyConfig: unknown) => ({
      target: "dns:///svc:80",
      clock: new FakeClock(),
      options: resolvePolicyOptions({ policyConfig }),
    });
    assert.equal(createPolicy("ring_hash", context({ requestHashHeader: "x-user" })).name, "ring_hash");
    rejectsWith(() => createPolicy("ring_hash", context({ balanceFactor: 0 })), /balanceFactor/);
  });
});

describe("the pick queue hands each waiting call's info to the picker", () => {
  it("serves a queued keyed call its own endpoint once that endpoint is READY", async () => {
    const endpoints = fakeEndpoints(3, S.CONNECTING);
    const policy = new RingHashPolicy<FakeEndpoint>();
    const home = pickKey(buildPicker(policy, fakeEndpoints(3)), "alice");
    const source: PickSource<FakeEndpoint> = {
      state: S.CONNECTING,
      picker: buildPicker(policy, endpoints),
      closed: false,
      activate: () => false,
      unavailableError: () => new ConnectError("none", Code.Unavailable),
    };
    const queue = new PickQueue(source, new FakeClock(), false, "dns:///svc:80");
    const waiting = queue.wait(undefined, undefined, byKey("alice"));
    // Another endpoint is READY first: the call keeps waiting for its own.
    const other = endpoints.find((e) => e.address !== home)!;
    other.state = S.READY;
    Object.assign(source, { state: S.READY, picker: buildPicker(policy, endpoints) });
    queue.serve();
    assert.equal(queue.size, 1);
    endpoints.find((e) => e.address === home)!.state = S.READY;
    Object.assign(source, { picker: buildPicker(policy, endpoints) });
    queue.serve();
    assert.equal((await waiting).address, home);
  });
});
