import assert from "node:assert/strict";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { fmix64, fnv1a64, hash64, seededRandom, type U64 } from "../src/subset/hash.js";
import {
  createSubsetter,
  defaultClientId,
  rankAmongPeers,
  SUBSETTER_KINDS,
  type Subsetter,
  type SubsetterKind,
  type SubsetterOptions,
  statefulSetOrdinal,
} from "../src/subset/index.js";
import {
  connectionsPerServer,
  loadPerServer,
  spread,
  subsetChurn,
  syntheticPodAddresses,
} from "./subset-measures.js";

/** A reproducible shuffle of `list`. */
function shuffled<T>(list: readonly T[], seed: string): T[] {
  const out = [...list];
  const random = seededRandom(hash64(seed));
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

type Mode = "index" | "id";

const MODES: { kind: SubsetterKind | "auto"; mode: Mode }[] = [
  { kind: "auto", mode: "index" },
  { kind: "auto", mode: "id" },
  ...SUBSETTER_KINDS.map((kind) => ({ kind, mode: "index" as Mode })),
  ...SUBSETTER_KINDS.map((kind) => ({ kind, mode: "id" as Mode })),
];

function opts(mode: Mode, i: number, count: number): SubsetterOptions {
  return mode === "index"
    ? { clientId: `client-${i}`, clientIndex: i, clientCount: count }
    : { clientId: `client-${i}` };
}

function fleet(kind: SubsetterKind | "auto", mode: Mode, count: number): Subsetter[] {
  return Array.from({ length: count }, (_, i) => createSubsetter(kind, opts(mode, i, count)));
}

/**
 * Churn of every client over several single-server additions (S+1) and
 * removals (S-1): mean over clients and changes, and max.
 */
function churnOnResize(clients: Subsetter[], servers: string[], k: number, changes: number) {
  const base = clients.map((c) => c.select(servers, k));
  const extra = syntheticPodAddresses(servers.length + changes, "extra").filter((e) => !servers.includes(e));
  const add: number[] = [];
  const remove: number[] = [];
  for (let t = 0; t < changes; t++) {
    const plus = [...servers, extra[t]!];
    const minus = servers.filter((_, i) => i !== Math.floor((t * servers.length) / changes));
    clients.forEach((c, i) => {
      add.push(subsetChurn(base[i]!, c.select(plus, k)));
      remove.push(subsetChurn(base[i]!, c.select(minus, k)));
    });
  }
  return { add: spread(add), remove: spread(remove) };
}

const C = 300;
const S = 300;
const K = 10;
const SERVERS = syntheticPodAddresses(S, "pods");

describe("subset hashing", () => {
  const M = (1n << 64n) - 1n;
  const big = (x: U64) => (BigInt(x.hi) << 32n) | BigInt(x.lo);

  it("is FNV-1a 64 over UTF-8 (published test vectors)", () => {
    assert.equal(big(fnv1a64("")), 0xcbf29ce484222325n);
    assert.equal(big(fnv1a64("a")), 0xaf63dc4c8601ec8cn);
    assert.equal(big(fnv1a64("foobar")), 0x85944171f73967e8n);
    // Non-ASCII goes through UTF-8: "é" is the bytes 0xc3 0xa9.
    let h = 0xcbf29ce484222325n;
    for (const byte of [0xc3, 0xa9]) h = ((h ^ BigInt(byte)) * 0x100000001b3n) & M;
    assert.equal(big(fnv1a64("é")), h);
  });

  it("finalizes with MurmurHash3 fmix64 (checked against a BigInt reference)", () => {
    const ref = (v: bigint) => {
      let x = v;
      x ^= x >> 33n;
      x = (x * 0xff51afd7ed558ccdn) & M;
      x ^= x >> 33n;
      x = (x * 0xc4ceb9fe1a85ec53n) & M;
      x ^= x >> 33n;
      return x;
    };
    const random = seededRandom(hash64("fmix"));
    for (let i = 0; i < 2000; i++) {
      const hi = Math.floor(random() * 2 ** 32);
      const lo = Math.floor(random() * 2 ** 32);
      assert.equal(big(fmix64({ hi, lo })), ref((BigInt(hi) << 32n) | BigInt(lo)));
    }
  });

  it("never changes: every client must compute the same subsets", () => {
    // If these change, every deployed client's subset changes with them.
    assert.equal(big(hash64("10.0.0.1:8081")), 0x476db4ecc5303190n);
    assert.deepEqual(
      SUBSETTER_KINDS.map((kind) =>
        createSubsetter(kind, { clientId: "c", clientIndex: 1, clientCount: 3 }).select(
          ["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1", "10.0.0.5:1"],
          2,
        ),
      ),
      GOLDEN,
    );
  });
});

/** Pinned outputs: a change here reshuffles production subsets. Regenerate deliberately. */
const GOLDEN = [
  ["10.0.0.4:1", "10.0.0.5:1"], // aperture
  ["10.0.0.2:1", "10.0.0.4:1"], // deterministic
  ["10.0.0.2:1", "10.0.0.3:1"], // rendezvous
  ["10.0.0.2:1", "10.0.0.4:1"], // random
];

describe("every subsetter", () => {
  for (const { kind, mode } of MODES) {
    describe(`${kind}, client ${mode === "index" ? "index known" : "id only"}`, () => {
      const make = () => createSubsetter(kind, opts(mode, 7, 20));

      it("is deterministic: same inputs, same subset, whatever the order or duplicates", () => {
        const a = make().select(SERVERS, K);
        const b = make().select(shuffled(SERVERS, "order"), K);
        const c = make().select([...shuffled(SERVERS, "again"), ...SERVERS.slice(0, 50)], K);
        assert.deepEqual(b, a);
        assert.deepEqual(c, a);
      });

      it("returns min(k, S) distinct members of the input", () => {
        for (const n of [1, 2, 9, 10, 11, 37, 300]) {
          const servers = SERVERS.slice(0, n);
          for (const k of [1, 3, 10, 50]) {
            const subset = make().select(servers, k);
            assert.equal(subset.length, Math.min(k, n), `n=${n} k=${k}`);
            assert.equal(new Set(subset).size, subset.length, `duplicates for n=${n} k=${k}`);
            for (const e of subset) assert.ok(servers.includes(e), `${e} not in input`);
          }
        }
      });

      it("returns every endpoint when k >= S, and nothing for no endpoints", () => {
        const servers = SERVERS.slice(0, 12);
        for (const k of [12, 13, 1000]) {
          assert.deepEqual([...make().select(servers, k)].sort(), [...servers].sort());
        }
        assert.deepEqual(make().select([], K), []);
      });

      it("rejects a subset size that is not a positive integer", () => {
        for (const k of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
          assert.throws(() => make().select(SERVERS, k), RangeError);
        }
      });

      it("gives different clients different subsets", () => {
        const subsets = new Set(fleet(kind, mode, 20).map((s) => s.select(SERVERS, K).join(",")));
        assert.ok(subsets.size >= 19, `only ${subsets.size} distinct subsets of 20`);
      });
    });
  }
});

describe("widening", () => {
  it("rendezvous, aperture and random subsets of k are prefixes of their subsets of k+j", () => {
    // So a pool can widen its subset (say, while members are unhealthy) by
    // asking for more, without dropping the endpoints it already uses.
    for (const kind of ["rendezvous", "aperture", "random"] as const) {
      for (const mode of ["index", "id"] as const) {
        for (const client of fleet(kind, mode, 30)) {
          const wide = client.select(SERVERS, 25);
          for (const k of [1, 5, 10, 24]) assert.deepEqual(client.select(SERVERS, k), wide.slice(0, k));
        }
      }
    }
  });
});

describe("createSubsetter", () => {
  it('"auto" is aperture with a known position and rendezvous without', () => {
    assert.equal(createSubsetter("auto", { clientIndex: 0, clientCount: 1 }).name, "aperture");
    assert.equal(createSubsetter("auto", { clientId: "x" }).name, "rendezvous");
    assert.equal(createSubsetter().name, "rendezvous");
    for (const kind of SUBSETTER_KINDS) assert.equal(createSubsetter(kind, { clientId: "x" }).name, kind);
  });

  it("rejects inconsistent positions and unknown kinds", () => {
    assert.throws(() => createSubsetter("auto", { clientIndex: 3 }), /together/);
    assert.throws(() => createSubsetter("aperture", { clientCount: 3 }), /together/);
    assert.throws(() => createSubsetter("deterministic", { clientIndex: 3, clientCount: 3 }), /out of range/);
    assert.throws(() => createSubsetter("deterministic", { clientIndex: -1 }), /non-negative/);
    assert.throws(() => createSubsetter("aperture", { clientIndex: 0, clientCount: 0 }), /positive/);
    assert.throws(() => createSubsetter("auto", { clientIndex: 0.5, clientCount: 2 }), RangeError);
    assert.throws(() => createSubsetter("nope" as SubsetterKind), /unknown subsetter kind "nope"/);
    // Deterministic subsetting needs only the index.
    assert.equal(createSubsetter("deterministic", { clientIndex: 5 }).select(SERVERS, K).length, K);
  });

  it("defaults the client id to host name and pid", () => {
    assert.equal(defaultClientId(), `${hostname()}/${process.pid}`);
    assert.deepEqual(
      createSubsetter("rendezvous").select(SERVERS, K),
      createSubsetter("rendezvous", { clientId: defaultClientId() }).select(SERVERS, K),
    );
  });
});

describe(`balance: C=${C} clients, S=${S} servers, k=${K}`, () => {
  const counts = (clients: Subsetter[], servers = SERVERS, k = K) =>
    connectionsPerServer(
      servers,
      clients.map((c) => c.select(servers, k)),
    );

  it("the default with known client indexes (aperture) gives every server exactly 10 clients", () => {
    const c = counts(fleet("auto", "index", C));
    assert.deepEqual(new Set(c), new Set([10]));
    assert.ok(spread(c).maxOverMean <= 1.1);
  });

  it("SRE deterministic subsetting with known indexes gives every server exactly 10 clients", () => {
    assert.deepEqual(new Set(counts(fleet("deterministic", "index", C))), new Set([10]));
  });

  it("aperture with known indexes gives floor(kC/S) or ceil(kC/S) clients per server, for any C, S, k", () => {
    for (const [c, s, k] of [
      [300, 301, 10],
      [300, 299, 10],
      [7, 30, 4],
      [31, 5, 2],
      [100, 17, 5],
      [1, 9, 3],
      [250, 300, 12],
    ] as const) {
      const servers = SERVERS.slice(0, s);
      const per = counts(fleet("aperture", "index", c), servers, k);
      const ideal = (c * k) / s;
      for (const n of per) {
        assert.ok(n === Math.floor(ideal) || n === Math.ceil(ideal), `C=${c} S=${s} k=${k}: ${n}`);
      }
    }
  });

  it("with only random ids, nothing is balanced: each server gets about Binomial(C, k/S) clients", () => {
    // Honest characterization, not a target: no stateless scheme does better
    // without knowing the other clients (docs/subsetting.md).
    for (const kind of ["rendezvous", "aperture", "deterministic", "random"] as const) {
      const c = counts(fleet(kind, "id", C));
      const s = spread(c);
      assert.equal(s.mean, 10);
      assert.ok(s.maxOverMean > 1.1 && s.maxOverMean < 2.6, `${kind}: max/mean ${s.maxOverMean}`);
    }
  });

  it("expected load follows connections when clients spread load evenly over equal-size subsets", () => {
    const clients = fleet("rendezvous", "id", C);
    const subsets = clients.map((c) => c.select(SERVERS, K));
    const load = loadPerServer(SERVERS, subsets);
    const conns = connectionsPerServer(SERVERS, subsets);
    load.forEach((l, i) => {
      assert.ok(Math.abs(l - conns[i]! / 10) < 1e-9);
    });
  });
});

describe(`churn when S goes ${S} -> ${S + 1} and ${S} -> ${S - 1}`, () => {
  const changes = 8;

  it("the default with known indexes (aperture): mean <= 2 endpoints per client (about 0.5), max <= 2", () => {
    const { add, remove } = churnOnResize(fleet("auto", "index", C), SERVERS, K, changes);
    assert.ok(add.mean <= 2 && remove.mean <= 2, `mean ${add.mean} / ${remove.mean}`);
    assert.ok(add.max <= 2 && remove.max <= 2, `max ${add.max} / ${remove.max}`);
  });

  it("the default without indexes (rendezvous): at most 1 per client, about k/S of the clients", () => {
    const { add, remove } = churnOnResize(fleet("auto", "id", C), SERVERS, K, changes);
    assert.ok(add.max <= 1 && remove.max <= 1);
    assert.ok(add.mean <= 0.1 && remove.mean <= 0.1, `mean ${add.mean} / ${remove.mean}`);
  });

  it("rendezvous moves exactly the clients that had the removed server, and those that rank a new one top k", () => {
    const clients = fleet("rendezvous", "id", C);
    const base = clients.map((c) => c.select(SERVERS, K));
    for (const gone of SERVERS.slice(0, 5)) {
      const minus = SERVERS.filter((e) => e !== gone);
      clients.forEach((c, i) => {
        assert.equal(subsetChurn(base[i]!, c.select(minus, K)), base[i]!.includes(gone) ? 1 : 0);
      });
    }
    for (const extra of syntheticPodAddresses(5, "new servers")) {
      clients.forEach((c, i) => {
        const after = c.select([...SERVERS, extra], K);
        assert.equal(subsetChurn(base[i]!, after), after.includes(extra) ? 1 : 0);
      });
    }
  });

  it("aperture by id hash: at most 2 per client, mean <= 2", () => {
    const { add, remove } = churnOnResize(fleet("aperture", "id", C), SERVERS, K, changes);
    assert.ok(add.max <= 2 && remove.max <= 2 && add.mean <= 2 && remove.mean <= 2);
  });

  it("SRE deterministic and random subsetting: bounded only by k (why neither is the default)", () => {
    for (const kind of ["deterministic", "random"] as const) {
      for (const mode of ["index", "id"] as const) {
        if (kind === "random" && mode === "index") continue;
        const { add, remove } = churnOnResize(fleet(kind, mode, C), SERVERS, K, changes);
        assert.ok(add.max <= K && remove.max <= K);
        assert.ok(add.mean > 2 && remove.mean > 2, `${kind}/${mode}: ${add.mean} / ${remove.mean}`);
      }
    }
  });

  it("a single add or remove changes at most 1 endpoint with rendezvous, 2 with aperture (exhaustive, small)", () => {
    const universe = syntheticPodAddresses(24, "small");
    for (const s of [1, 2, 3, 5, 8, 13, 20]) {
      const servers = universe.slice(0, s);
      for (const k of [1, 2, 3, 5, 8]) {
        for (const [kind, mode] of [
          ["rendezvous", "id"],
          ["aperture", "id"],
          ["aperture", "index"],
        ] as const) {
          for (const c of [1, 3, 7, 16]) {
            for (const client of fleet(kind, mode, c)) {
              const base = client.select(servers, k);
              const bound = kind === "rendezvous" ? 1 : 2;
              for (const extra of universe.slice(s)) {
                const after = client.select([...servers, extra], k);
                assert.ok(
                  subsetChurn(base, after) <= bound,
                  `${kind}/${mode} S=${s} k=${k} C=${c} +${extra}`,
                );
              }
              for (const gone of servers) {
                const after = client.select(
                  servers.filter((e) => e !== gone),
                  k,
                );
                assert.ok(subsetChurn(base, after) <= bound, `${kind}/${mode} S=${s} k=${k} C=${c} -${gone}`);
              }
            }
          }
        }
      }
    }
  });

  it("a client joining moves nobody with SRE deterministic subsetting, at most one endpoint each with aperture (C = S)", () => {
    const before = fleet("deterministic", "index", C).map((c) => c.select(SERVERS, K));
    const after = fleet("deterministic", "index", C + 1).map((c) => c.select(SERVERS, K));
    before.forEach((b, i) => {
      assert.deepEqual(after[i], b);
    });
    const ab = fleet("aperture", "index", C).map((c) => c.select(SERVERS, K));
    const aa = fleet("aperture", "index", C + 1).map((c) => c.select(SERVERS, K));
    ab.forEach((b, i) => {
      assert.ok(subsetChurn(b, aa[i]!) <= 1);
    });
  });
});

describe("client identity helpers", () => {
  it("statefulSetOrdinal reads <set>-<n> and nothing else", () => {
    assert.equal(statefulSetOrdinal("rng-client-3", "rng-client"), 3);
    assert.equal(statefulSetOrdinal("rng-client-0", "rng-client"), 0);
    assert.equal(statefulSetOrdinal("rng-client-6d4cf56db-24579", "rng-client"), undefined);
    assert.equal(statefulSetOrdinal("rng-client-03", "rng-client"), undefined);
    assert.equal(statefulSetOrdinal("other-3", "rng-client"), undefined);
    assert.equal(statefulSetOrdinal("rng-client-", "rng-client"), undefined);
  });

  it("rankAmongPeers is the position in the sorted, de-duplicated peer list", () => {
    const peers = ["10.0.0.9", "10.0.0.10", "10.0.0.2", "10.0.0.9"];
    assert.deepEqual(rankAmongPeers("10.0.0.2", peers), { clientIndex: 1, clientCount: 3 });
    assert.deepEqual(rankAmongPeers("10.0.0.10", peers), { clientIndex: 0, clientCount: 3 });
    assert.equal(rankAmongPeers("10.0.0.3", peers), undefined);
  });
});

describe("analysis helpers", () => {
  it("spread and subsetChurn", () => {
    assert.deepEqual(spread([1, 2, 3, 6]), { min: 1, mean: 3, max: 6, maxOverMean: 2 });
    assert.deepEqual(spread([]), { min: 0, mean: 0, max: 0, maxOverMean: 0 });
    assert.equal(subsetChurn(["a", "b", "c"], ["c", "b", "a"]), 0);
    assert.equal(subsetChurn(["a", "b", "c"], ["a", "b", "d"]), 1);
    assert.equal(subsetChurn(["a", "b"], ["a", "b", "c", "d"]), 2);
  });
});
