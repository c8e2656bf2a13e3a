import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { createPoolTransport, parseTarget, registerResolver, StaticResolver } from "@rngbalance/dns-pool";

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

  /** The message of the InvalidArgument error createPoolTransport throws for `target`. */
  function targetError(target: string): string {
    try {
      createPoolTransport({ target }).close();
    } catch (err) {
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.InvalidArgument);
      return err.rawMessage;
    }
    assert.fail(`accepted ${target}`);
  }

  it("a URL gets the gRPC target of the same host and port, TLS for https, and no path", () => {
    assert.equal(
      targetError("http://10.0.0.1:8080"),
      'invalid target "http://10.0.0.1:8080": createPoolTransport takes a gRPC target, not a URL: use dns:///10.0.0.1:8080 (or ipv4:10.0.0.1:8080)',
    );
    assert.equal(
      targetError("https://api.example.com/v1"),
      'invalid target "https://api.example.com/v1": createPoolTransport takes a gRPC target, not a URL: use dns:///api.example.com:443 and set the tls option (tls: true, or TLS options); a path (/v1) is not part of a target, calls name their own',
    );
    assert.equal(
      targetError("HTTP://[fd00::1]:9000/"),
      'invalid target "HTTP://[fd00::1]:9000/": createPoolTransport takes a gRPC target, not a URL: use dns:///[fd00::1]:9000 (or ipv6:[fd00::1]:9000)',
    );
    assert.match(targetError("grpcs://rng:8443"), /use dns:\/\/\/rng:8443 and set the tls option/);
  });

  it("an unknown scheme gets the registered schemes, and the one meant when it is near", () => {
    assert.equal(
      targetError("consul:///rng"),
      'invalid target "consul:///rng": unknown scheme "consul": the registered schemes are dns, ipv4, ipv6, k8s, kubernetes, passthrough, unix, unix-abstract; registerResolver() adds one',
    );
    assert.match(
      targetError("dsn:///rng:8081"),
      /^invalid target "dsn:\/\/\/rng:8081": unknown scheme "dsn" \(did you mean dns\?\)/,
    );
    // Without "//", "kubernets:rng:80" could be host:port; as a near miss of a scheme it is a typo.
    assert.match(targetError("kubernets:rng:80"), /unknown scheme "kubernets" \(did you mean kubernetes\?\)/);
    assert.doesNotMatch(targetError("kubernets:rng:80"), /has no port/);
    // Neither a scheme nor a port: both readings are given.
    assert.match(
      targetError("rng:grpc"),
      /unknown scheme "rng": .*; read as host:port instead, port "grpc" is not a number from 1 to 65535/,
    );
    // host:port stays host:port: a bad port is only that.
    assert.doesNotMatch(targetError("rng:99999"), /scheme/);
    assert.equal(parseTarget("fd00::1", 80).scheme, "passthrough", "a bare IPv6 literal is not a scheme");
  });

  it("the scheme list includes schemes registered with registerResolver", () => {
    registerResolver("static-test", { create: () => new StaticResolver([]) });
    assert.match(
      targetError("statik-test:///a"),
      /\(did you mean static-test\?\): the registered schemes are .*, static-test,/,
    );
  });

  it("several colons that make no IPv6 address are not taken for one", () => {
    assert.match(
      targetError("a:b:8081"),
      /"a:b:8081" has 2 ":" but is not an IPv6 address; write host:port, or \[IPv6\]:port/,
    );
  });
});
