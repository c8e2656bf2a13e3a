import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createPoolTransport, parseTarget } from "@rngbalance/dns-pool";

describe("parseTarget (gRPC naming spec)", () => {
  it("parses dns: with and without an authority", () => {
    assert.deepEqual(parseTarget("dns:///rng-headless:8081"), {
      scheme: "dns",
      dnsServer: undefined,
      host: "rng-headless",
      port: 8081,
    });
    assert.deepEqual(parseTarget("dns:rng-headless:8081"), {
      scheme: "dns",
      dnsServer: undefined,
      host: "rng-headless",
      port: 8081,
    });
    assert.deepEqual(parseTarget("dns://127.0.0.1:5353/rng-headless.default.svc.cluster.local:8081"), {
      scheme: "dns",
      dnsServer: { host: "127.0.0.1", port: 5353 },
      host: "rng-headless.default.svc.cluster.local",
      port: 8081,
    });
    assert.deepEqual(parseTarget("dns://[::1]/svc:1"), {
      scheme: "dns",
      dnsServer: { host: "::1", port: 53 },
      host: "svc",
      port: 1,
    });
  });

  it("parses ipv4:, ipv6:, unix:, unix-abstract: and passthrough", () => {
    assert.deepEqual(parseTarget("ipv4:10.0.0.1:8081,10.0.0.2:9090"), {
      scheme: "ipv4",
      addresses: [
        { host: "10.0.0.1", port: 8081 },
        { host: "10.0.0.2", port: 9090 },
      ],
    });
    assert.deepEqual(parseTarget("ipv6:[fd00::1]:8081,[::1]:1"), {
      scheme: "ipv6",
      addresses: [
        { host: "fd00::1", port: 8081 },
        { host: "::1", port: 1 },
      ],
    });
    assert.deepEqual(parseTarget("unix:/run/rng.sock"), { scheme: "unix", path: "/run/rng.sock" });
    assert.deepEqual(parseTarget("unix:///run/rng.sock"), { scheme: "unix", path: "/run/rng.sock" });
    assert.deepEqual(parseTarget("unix:relative.sock"), { scheme: "unix", path: "relative.sock" });
    assert.deepEqual(parseTarget("unix-abstract:rng"), { scheme: "unix", path: "\0rng" });
    assert.deepEqual(parseTarget("rng-headless:8081"), {
      scheme: "passthrough",
      host: "rng-headless",
      port: 8081,
    });
    assert.deepEqual(parseTarget("localhost:8081"), { scheme: "passthrough", host: "localhost", port: 8081 });
    assert.deepEqual(parseTarget("[::1]:8081"), { scheme: "passthrough", host: "::1", port: 8081 });
    assert.deepEqual(parseTarget("passthrough:///rng:80"), { scheme: "passthrough", host: "rng", port: 80 });
  });

  it("uses defaultPort only when asked", () => {
    assert.deepEqual(parseTarget("dns:///rng-headless", 8081), {
      scheme: "dns",
      dnsServer: undefined,
      host: "rng-headless",
      port: 8081,
    });
    assert.throws(
      () => parseTarget("dns:///rng-headless"),
      /has no port: add one \(e\.g\. rng-headless:8081\) or set the defaultPort option/,
    );
  });

  const bad: [string, RegExp][] = [
    ["", /the target is empty/],
    [" dns:///a:1", /white space/],
    ["dns:///", /host name is missing/],
    ["dns://127.0.0.1:53", /must be followed by \/host:port/],
    ["dns://kube-dns/rng:1", /DNS server "kube-dns" must be an IP address/],
    ["dns:///rng:0", /port "0" is not a number from 1 to 65535/],
    ["dns:///rng:99999", /port "99999"/],
    ["dns:///rng:http", /port "http"/],
    ["dns:///bad_host!:1", /is not a valid host name/],
    ["ipv4:10.0.0.1:1,", /an address in the list is empty/],
    ["ipv4:[fd00::1]:80", /"fd00::1" is not an IPv4 address/],
    ["ipv6:fd00::1", /"fd00::1" has no port: add one \(e\.g\. \[fd00::1\]:8081\)/],
    ["ipv6:10.0.0.1:80", /is not an IPv6 address/],
    ["ipv6:[::1", /has "\[" without "\]"/],
    ["unix:", /socket path is missing/],
    ["unix://relative", /absolute path/],
  ];
  for (const [target, why] of bad) {
    it(`rejects ${JSON.stringify(target)} with InvalidArgument`, () => {
      assert.throws(
        () => createPoolTransport({ target }),
        (err: unknown) => {
          assert.ok(err instanceof ConnectError);
          assert.equal(err.code, Code.InvalidArgument);
          assert.match(err.rawMessage, why);
          assert.match(err.rawMessage, /expected dns:\/\/\/host:port/);
          return true;
        },
      );
    });
  }

  it("rejects bad options with InvalidArgument naming the option", () => {
    const target = "ipv4:127.0.0.1:1";
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ policy: "random" }, /options.policy must be one of "round_robin", "pick_first", "least_request"/],
      [{ protocol: "http" }, /options.protocol must be one of/],
      [
        { minResolveIntervalMs: 5000, maxResolveIntervalMs: 1000 },
        /maxResolveIntervalMs \(1000\) must not be below/,
      ],
      [{ defaultPort: 70000 }, /defaultPort must be a port number/],
      [{ connectTimeoutMs: -1 }, /connectTimeoutMs must be a number >= 1/],
    ];
    for (const [options, why] of cases) {
      assert.throws(
        () => createPoolTransport({ target, ...options }),
        (err: unknown) =>
          err instanceof ConnectError && err.code === Code.InvalidArgument && why.test(err.rawMessage),
      );
    }
  });
});
