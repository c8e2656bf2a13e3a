import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { formatAddress } from "../../src/resolver/address.js";
import type { Resolution } from "../../src/resolver/resolver.js";
import { createSubsetter } from "../../src/subset/index.js";
import { SubsettingResolver, subsetResolver } from "../../src/subset/subset-resolver.js";
import { FakeResolver } from "../../src/testing/index.js";

const pods = Array.from({ length: 10 }, (_, i) => `10.0.1.${i + 1}:8081`);

function collect(resolver: SubsettingResolver) {
  const seen: Resolution[] = [];
  const errors: ConnectError[] = [];
  resolver.start({ onResolution: (r) => seen.push(r), onResolutionError: (e) => errors.push(e) });
  return { seen, errors };
}

describe("SubsettingResolver (a Resolver decorator)", () => {
  it("passes on only this client's subset, as the subsetter chooses it, with the full count", () => {
    const inner = new FakeResolver();
    const subsetter = createSubsetter("rendezvous", { clientId: "client-a" });
    const resolver = new SubsettingResolver(inner, subsetter, 3);
    const { seen } = collect(resolver);
    inner.push(pods, 30);
    assert.equal(seen.length, 1);
    const r = seen[0]!;
    assert.deepEqual(r.addresses.map(formatAddress), subsetter.select(pods, 3));
    assert.equal(r.resolvedCount, 10);
    assert.equal(r.ttlSeconds, 30);
  });

  it("is stable: the same input gives the same subset, in any order", () => {
    const inner = new FakeResolver();
    const { seen } = collect(
      new SubsettingResolver(inner, createSubsetter("rendezvous", { clientId: "c" }), 3),
    );
    inner.push(pods);
    inner.push([...pods].reverse());
    assert.deepEqual(seen[0]!.addresses, seen[1]!.addresses);
  });

  it("passes errors, resolveNow() and close() through", () => {
    const inner = new FakeResolver();
    const resolver = new SubsettingResolver(inner, createSubsetter("random", { clientId: "c" }), 2);
    const { errors } = collect(resolver);
    inner.fail("NXDOMAIN");
    assert.equal(errors[0]?.code, Code.Unavailable);
    resolver.resolveNow();
    assert.equal(inner.resolveNowCalls, 1);
    resolver.close();
    assert.equal(inner.closed, true);
  });

  it("subsetResolver() rejects a bad size or position with InvalidArgument", () => {
    for (const options of [{ size: 0 }, { size: 2, clientIndex: 5, clientCount: 2 }]) {
      assert.throws(
        () => subsetResolver(new FakeResolver(), options),
        (e: unknown) =>
          e instanceof ConnectError && e.code === Code.InvalidArgument && /options.subset/.test(e.rawMessage),
      );
    }
  });
});
