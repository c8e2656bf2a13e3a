import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  interleaveFamilies,
  type ResolvedPickFirst,
  resolvePickFirst,
  shuffled,
} from "../../src/balancer/pick-first-order.js";
import { PickFirstPolicy } from "../../src/balancer/policies.js";
import { EndpointSet } from "../../src/call/endpoint-set.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import type { PoolStateEvent } from "../../src/core/events.js";
import { formatAddress } from "../../src/resolver/address.js";
import { FakeClock, FakeEndpoint, FakeResolver, pickAddresses } from "../../src/testing/index.js";

const named = (...addresses: string[]) => addresses.map((address) => ({ address }));
const addressesOf = (list: readonly { address: string }[]) => list.map((e) => e.address);

function setup(options: Partial<ResolvedPickFirst> = {}, random?: () => number) {
  const clock = new FakeClock();
  const created: FakeEndpoint[] = [];
  const states: PoolStateEvent[] = [];
  const policy = new PickFirstPolicy<FakeEndpoint>(
    undefined,
    { shuffleAddressList: false, connectionAttemptDelayMs: 250, ...options },
    clock,
    random,
  );
  const set = new EndpointSet<FakeEndpoint>(
    "dns:///svc:80",
    policy,
    (address) => {
      const e = new FakeEndpoint(formatAddress(address), (self) => {
        if (self.state === S.IDLE) self.state = S.CONNECTING;
      });
      created.push(e);
      return e;
    },
    { onResolution: () => {}, onResolutionError: () => {}, onStateChange: (e) => states.push(e) },
    true,
  );
  const resolver = new FakeResolver();
  resolver.start(set);
  const byAddress = (a: string) => {
    const e = created.find((c) => c.address === a);
    if (!e) throw new Error(`no endpoint ${a}`);
    return e;
  };
  const asked = () => created.filter((e) => e.connectRequests > 0).map((e) => e.address);
  return { clock, set, resolver, created, states, byAddress, asked };
}

describe("pick_first address order (gRFC A61, A62)", () => {
  it("interleaves families from the first address's (RFC 8305), each family in its own order", () => {
    assert.deepEqual(
      addressesOf(
        interleaveFamilies(named("[::1]:80", "[::2]:80", "[::3]:80", "10.0.0.1:80", "10.0.0.2:80")),
      ),
      ["[::1]:80", "10.0.0.1:80", "[::2]:80", "10.0.0.2:80", "[::3]:80"],
    );
    assert.deepEqual(addressesOf(interleaveFamilies(named("10.0.0.1:80", "10.0.0.2:80", "[::1]:80"))), [
      "10.0.0.1:80",
      "[::1]:80",
      "10.0.0.2:80",
    ]);
    assert.deepEqual(addressesOf(interleaveFamilies(named("10.0.0.1:80", "10.0.0.2:80"))), [
      "10.0.0.1:80",
      "10.0.0.2:80",
    ]);
    assert.deepEqual(interleaveFamilies([]), []);
  });

  it("shuffles a copy, every order reachable", () => {
    const list = [1, 2, 3];
    const seen = new Set<string>();
    let seed = 1;
    // A small LCG: deterministic, and covers the 6 permutations quickly.
    const random = () => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 200; i++) seen.add(shuffled(list, random).join(""));
    assert.equal(seen.size, 6);
    assert.deepEqual(list, [1, 2, 3], "the input is left alone");
  });

  it("shuffleAddressList: each resolution is shuffled once, then connected in that order", () => {
    // random() = 0 moves each last element to the front: [a, b, c] -> [b, c, a].
    const { resolver, asked, byAddress, set } = setup({ shuffleAddressList: true }, () => 0);
    resolver.push(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    assert.deepEqual(asked(), ["10.0.0.2:80"], "the shuffled list's first address first");
    byAddress("10.0.0.2:80").state = S.TRANSIENT_FAILURE;
    set.rebuild();
    assert.deepEqual(asked().sort(), ["10.0.0.2:80", "10.0.0.3:80"]);
  });

  it("without shuffleAddressList, the resolver's order (families interleaved)", () => {
    const { resolver, asked } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80", "[fd00::1]:80"]);
    assert.deepEqual(asked(), ["10.0.0.1:80"]);
  });

  it("resolvePickFirst: defaults, and InvalidArgument naming the field", () => {
    assert.deepEqual(resolvePickFirst(undefined), {
      shuffleAddressList: false,
      connectionAttemptDelayMs: 250,
    });
    assert.deepEqual(resolvePickFirst({ connectionAttemptDelayMs: 0 }), {
      shuffleAddressList: false,
      connectionAttemptDelayMs: 0,
    });
    for (const bad of [{ connectionAttemptDelayMs: -1 }, { connectionAttemptDelayMs: 1e6 }]) {
      assert.throws(
        () => resolvePickFirst(bad),
        (err: unknown) =>
          err instanceof ConnectError &&
          err.code === Code.InvalidArgument &&
          /options\.pickFirst\.connectionAttemptDelayMs must be a number of ms from 0 \(no stagger\) to 60000/.test(
            err.rawMessage,
          ),
      );
    }
    assert.throws(
      () => resolvePickFirst({ shuffleAddressList: "yes" as unknown as boolean }),
      /options\.pickFirst\.shuffleAddressList must be a boolean, got "yes"/,
    );
  });
});

describe("pick_first Happy Eyeballs pass (gRFC A61) and sticky TRANSIENT_FAILURE (A62)", () => {
  it("starts the next address 250 ms into an unfinished attempt; the first READY wins and the others are released", () => {
    const { clock, resolver, asked, byAddress, set } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    assert.deepEqual(asked(), ["10.0.0.1:80"]);
    clock.advance(249);
    assert.deepEqual(asked(), ["10.0.0.1:80"], "not before the delay");
    clock.advance(1);
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80"], "the second attempt runs beside the first");
    byAddress("10.0.0.2:80").state = S.READY;
    set.rebuild();
    assert.deepEqual(pickAddresses(set.picker, 3), ["10.0.0.2:80", "10.0.0.2:80", "10.0.0.2:80"]);
    assert.equal(byAddress("10.0.0.1:80").releases, 1, "the loser's attempt is cancelled");
    assert.equal(byAddress("10.0.0.1:80").state, S.IDLE);
    clock.advance(10_000);
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80"], "no third attempt after a winner");
    assert.equal(byAddress("10.0.0.2:80").releases, 0);
  });

  it("a failed attempt starts the next at once and restarts the delay", () => {
    const { clock, resolver, asked, byAddress, set } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
    clock.advance(200);
    byAddress("10.0.0.1:80").state = S.TRANSIENT_FAILURE;
    set.rebuild();
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80"]);
    clock.advance(200);
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80"], "the delay counts from the second's start");
    clock.advance(50);
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]);
  });

  it("connectionAttemptDelayMs 0: one attempt at a time, the next only after a failure", () => {
    const { clock, resolver, asked, byAddress, set } = setup({ connectionAttemptDelayMs: 0 });
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    clock.advance(60_000);
    assert.deepEqual(asked(), ["10.0.0.1:80"]);
    byAddress("10.0.0.1:80").state = S.TRANSIENT_FAILURE;
    set.rebuild();
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80"]);
  });

  it("once every address failed, all keep trying and the pool stays TRANSIENT_FAILURE until one is READY", () => {
    const { resolver, created, set, states } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    for (const e of created) e.state = S.TRANSIENT_FAILURE;
    set.rebuild();
    set.rebuild();
    assert.equal(set.state, S.TRANSIENT_FAILURE);
    assert.ok(
      created.every((e) => e.connectRequests > 0),
      "both wanted",
    );
    // One retries after its backoff: a plain aggregate would say CONNECTING and queue fail-fast calls.
    created[0]!.state = S.CONNECTING;
    set.rebuild();
    assert.equal(set.state, S.TRANSIENT_FAILURE, "sticky");
    created[1]!.state = S.READY;
    set.rebuild();
    assert.equal(set.state, S.READY);
    assert.equal(created[0]!.releases, 1, "the other retry is cancelled");
    assert.deepEqual(
      states.map((s) => s.state),
      [S.CONNECTING, S.TRANSIENT_FAILURE, S.READY],
    );
  });

  it("after the winner is lost, a new pass starts from the first address", () => {
    const { clock, resolver, asked, byAddress, set, created } = setup();
    resolver.push(["10.0.0.1:80", "10.0.0.2:80"]);
    byAddress("10.0.0.1:80").state = S.READY;
    set.rebuild();
    byAddress("10.0.0.1:80").state = S.IDLE;
    set.rebuild();
    assert.equal(byAddress("10.0.0.1:80").state, S.CONNECTING, "asked again");
    assert.deepEqual(asked(), ["10.0.0.1:80"]);
    clock.advance(250);
    assert.deepEqual(asked(), ["10.0.0.1:80", "10.0.0.2:80"]);
    assert.equal(created.length, 2);
  });
});
