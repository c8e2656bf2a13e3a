import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createPoolTransport } from "../../src/pool.js";
import { registeredSchemes, registerResolver } from "../../src/resolver/registry.js";
import type { ResolverOptions, TargetUri } from "../../src/resolver/resolver.js";
import { parseTarget, resolveTarget } from "../../src/resolver/target.js";
import { FakeResolver } from "../../src/testing/index.js";

describe("resolver registry", () => {
  it("has the built-in schemes", () => {
    for (const s of ["dns", "ipv4", "ipv6", "unix", "unix-abstract", "passthrough", "kubernetes", "k8s"]) {
      assert.ok(registeredSchemes().includes(s), s);
    }
  });

  it("accepts a registered scheme, handing its resolver the split target and the options", () => {
    const made: { uri: TargetUri; options: ResolverOptions; resolver: FakeResolver }[] = [];
    registerResolver("consul", {
      validate(uri) {
        if (uri.endpoint === "") throw new ConnectError("consul: service missing", Code.InvalidArgument);
      },
      create(uri, options) {
        const resolver = new FakeResolver();
        made.push({ uri, options, resolver });
        return resolver;
      },
      defaultAuthority: (uri) => `${uri.endpoint}.service.consul`,
    });
    assert.deepEqual(parseTarget("consul://agent:8500/rng"), {
      scheme: "custom",
      uri: { scheme: "consul", authority: "agent:8500", endpoint: "rng", target: "consul://agent:8500/rng" },
    });
    assert.equal(resolveTarget("consul:rng", undefined).authority, "rng.service.consul");
    assert.throws(() => parseTarget("consul:"), /service missing/);

    const pool = createPoolTransport({ target: "consul:///rng", minResolveIntervalMs: 250 });
    assert.equal(made.length, 1);
    assert.equal(made[0]!.uri.endpoint, "rng");
    assert.equal(made[0]!.options.minResolveIntervalMs, 250);
    assert.ok(made[0]!.resolver.listener, "started by the pool");
    made[0]!.resolver.push(["127.0.0.9:1"]);
    assert.equal(pool.stats().endpoints[0]?.address, "127.0.0.9:1");
    void pool.close();
    assert.equal(made[0]!.resolver.closed, true);
  });

  it("rejects a scheme that is not RFC 3986 syntax", () => {
    assert.throws(() => registerResolver("Not A Scheme", { create: () => new FakeResolver() }), TypeError);
  });

  it("leaves unregistered schemes to passthrough, as before", () => {
    assert.deepEqual(parseTarget("localhost:8081"), { scheme: "passthrough", host: "localhost", port: 8081 });
  });
});

describe("the testing subpath export", () => {
  it("resolves @rngbalance/dns-pool/testing (built package)", async () => {
    const testing = await import("@rngbalance/dns-pool/testing");
    assert.equal(typeof testing.FakeClock, "function");
    assert.equal(typeof testing.FakeEndpoint, "function");
    assert.equal(typeof testing.FakeResolver, "function");
  });
});
