import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FlagError, parseDuration, parseFlags, USAGE } from "../src/flags.js";

function config(argv: string[]) {
  const parsed = parseFlags(argv);
  assert.equal(parsed.help, false);
  return (parsed as Extract<typeof parsed, { help: false }>).config;
}

function rejects(argv: string[], message: RegExp) {
  assert.throws(
    () => parseFlags(argv),
    (err: unknown) => err instanceof FlagError && message.test(err.message),
    `expected FlagError matching ${message} for ${JSON.stringify(argv)}`,
  );
}

describe("parseDuration", () => {
  it("accepts Go-style durations", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("1s"), 1000);
    assert.equal(parseDuration("1.5s"), 1500);
    assert.equal(parseDuration("2m"), 120_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration("0s"), 0);
  });
  it("rejects anything else", () => {
    for (const bad of ["", "1", "-1s", "1 s", "s", "1x", "1.s", "ms", "1s2", "1e3ms"]) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });
});

describe("parseFlags", () => {
  it("fills in the defaults", () => {
    assert.deepEqual(config([]), {
      target: "dns:///rng-headless:8081",
      policy: "round_robin",
      protocol: "grpc",
      connect: "eager",
      intervalMs: 1000,
      count: undefined,
      concurrency: 1,
      timeoutMs: 2000,
      json: false,
      verbose: false,
      subsetSize: undefined,
      clientIndex: undefined,
      clientCount: undefined,
      slowStart: undefined,
      peakEwma: { defaultRttMs: 30, decayMs: 10_000 },
      weightedRoundRobin: { blackoutPeriodMs: 10_000 },
      metricsAddr: undefined,
      metricsLingerMs: 0,
      locality: false,
      hashKey: undefined,
      balanceFactor: undefined,
      hedgeDelayMs: undefined,
      hedgePercentile: undefined,
      maxConnectionsPerEndpoint: 1,
    });
  });

  it("--policy ring_hash with --hash-key and --balance-factor; both need ring_hash", () => {
    const c = config(["--policy", "ring_hash", "--hash-key", "user-42", "--balance-factor", "1.25"]);
    assert.deepEqual([c.policy, c.hashKey, c.balanceFactor], ["ring_hash", "user-42", 1.25]);
    rejects(["--hash-key", "user-42"], /--hash-key needs --policy ring_hash/);
    rejects(["--balance-factor", "1.25"], /--balance-factor needs --policy ring_hash/);
    rejects(["--policy", "ring_hash", "--balance-factor", "0.5"], /--balance-factor/);
  });

  it("--hedge-delay (0: off), --hedge-percentile (50 to 99.9) and --max-connections-per-endpoint (1 to 100)", () => {
    assert.equal(config(["--hedge-delay", "20ms"]).hedgeDelayMs, 20);
    assert.equal(config(["--hedge-delay", "0"]).hedgeDelayMs, undefined);
    // --hedge-percentile turns hedging on by itself; --hedge-delay is then its floor.
    const adaptive = config(["--hedge-percentile", "95"]);
    assert.deepEqual([adaptive.hedgeDelayMs, adaptive.hedgePercentile], [0, 95]);
    assert.equal(config(["--hedge-percentile", "99", "--hedge-delay", "5ms"]).hedgeDelayMs, 5);
    rejects(["--hedge-percentile", "30"], /--hedge-percentile must be a number from 50 to 99\.9/);
    assert.equal(config(["--max-connections-per-endpoint", "8"]).maxConnectionsPerEndpoint, 8);
    rejects(["--max-connections-per-endpoint", "0"], /--max-connections-per-endpoint/);
    rejects(["--max-connections-per-endpoint", "101"], /--max-connections-per-endpoint/);
  });

  it("--metrics-addr, or RNG_CLIENT_METRICS_ADDR; the flag wins; host:port only", () => {
    const parse = (argv: string[], env: NodeJS.ProcessEnv) => {
      const parsed = parseFlags(argv, env);
      assert.equal(parsed.help, false);
      return (parsed as Extract<typeof parsed, { help: false }>).config;
    };
    assert.equal(parse(["--metrics-addr", "127.0.0.1:9464"], {}).metricsAddr, "127.0.0.1:9464");
    assert.equal(parse([], { RNG_CLIENT_METRICS_ADDR: ":9464" }).metricsAddr, ":9464");
    assert.equal(
      parse(["--metrics-addr", "[::1]:0"], { RNG_CLIENT_METRICS_ADDR: ":1" }).metricsAddr,
      "[::1]:0",
    );
    assert.equal(parse(["--metrics-linger", "2s"], {}).metricsLingerMs, 2000);
    rejects(["--metrics-addr", "9464"], /--metrics-addr:? must be host:port/);
    assert.throws(
      () => parseFlags([], { RNG_CLIENT_METRICS_ADDR: "nope" }),
      /RNG_CLIENT_METRICS_ADDR:? must be host:port/,
    );
  });

  it("reads every flag, as --flag value, --flag=value and Go's -flag value", () => {
    assert.deepEqual(
      config([
        "--target",
        "ipv4:127.0.0.2:8081,127.0.0.3:8081",
        "--policy=pick_first",
        "-protocol",
        "connect",
        "--connect",
        "lazy",
        "-interval=250ms",
        "--count",
        "7",
        "--concurrency",
        "4",
        "--timeout",
        "1.5s",
        "--json",
        "-v",
        "--subset-size",
        "2",
        "--client-index",
        "1",
        "--client-count",
        "6",
      ]),
      {
        target: "ipv4:127.0.0.2:8081,127.0.0.3:8081",
        policy: "pick_first",
        protocol: "connect",
        connect: "lazy",
        intervalMs: 250,
        count: 7,
        concurrency: 4,
        timeoutMs: 1500,
        json: true,
        verbose: true,
        subsetSize: 2,
        clientIndex: 1,
        clientCount: 6,
        slowStart: undefined,
        peakEwma: { defaultRttMs: 30, decayMs: 10_000 },
        weightedRoundRobin: { blackoutPeriodMs: 10_000 },
        metricsAddr: undefined,
        metricsLingerMs: 0,
        locality: false,
        hashKey: undefined,
        balanceFactor: undefined,
        hedgeDelayMs: undefined,
        hedgePercentile: undefined,
        maxConnectionsPerEndpoint: 1,
      },
    );
  });

  it("takes --client-index and --client-count together only, the index below the count", () => {
    assert.throws(() => config(["--client-index", "1"]), /--client-index and --client-count go together/);
    assert.throws(
      () => config(["--client-index", "6", "--client-count", "6"]),
      /--client-index must be below --client-count \(6\); got 6/,
    );
    assert.throws(() => config(["--subset-size", "0"]), /--subset-size must be a whole number from 1/);
  });

  it("takes --count 0 as no limit and --interval 0 as no pause", () => {
    const c = config(["--count", "0", "--interval", "0"]);
    assert.equal(c.count, undefined);
    assert.equal(c.intervalMs, 0);
  });

  it('skips the "--" that pnpm passes on', () => {
    assert.equal(config(["--", "--count", "3"]).count, 3);
  });

  it("answers --help and -h", () => {
    assert.deepEqual(parseFlags(["--help"]), { help: true });
    assert.deepEqual(parseFlags(["--count", "3", "-h"]), { help: true });
  });

  it("documents every flag with its default", () => {
    for (const flag of [
      "target",
      "policy",
      "protocol",
      "connect",
      "interval",
      "count",
      "concurrency",
      "timeout",
      "slow-start",
      "peak-ewma-decay",
      "wrr-blackout",
    ]) {
      assert.match(USAGE, new RegExp(`--${flag} <[a-z]+>.*default \\S+`), flag);
    }
    assert.match(USAGE, /--json/);
    assert.match(USAGE, /--verbose/);
    assert.match(USAGE, /--help/);
    assert.match(USAGE, /Exit status/);
  });

  it("names the flag of a bad value", () => {
    rejects(["--interval", "5"], /^--interval must be a duration such as 500ms, 1s or 2m; got "5"$/);
    rejects(["--timeout", "0"], /^--timeout must be more than 0; got "0"$/);
    rejects(["--timeout", "soon"], /^--timeout must be a duration/);
    rejects(["--count", "-1"], /^--count needs a value/);
    rejects(["--count=-1"], /^--count must be a whole number from 0 to \d+; got "-1"$/);
    rejects(["--count", "2.5"], /^--count must be a whole number/);
    rejects(["--count", ""], /^--count must be a whole number/);
    rejects(["--concurrency", "0"], /^--concurrency must be a whole number from 1 to 1000; got "0"$/);
    rejects(
      ["--policy", "random"],
      /^--policy must be round_robin, pick_first, least_request, peak_ewma, weighted_round_robin, ring_hash; got "random"$/,
    );
    rejects(["--protocol", "http"], /^--protocol must be grpc, grpc-web, connect; got "http"$/);
    rejects(["--connect", "now"], /^--connect must be eager, lazy; got "now"$/);
  });

  it("reads the latency-aware policies and slow start", () => {
    const c = config([
      "--policy",
      "peak_ewma",
      "--slow-start",
      "30s",
      "--slow-start-aggression",
      "2",
      "--peak-ewma-default-rtt",
      "5ms",
      "--peak-ewma-decay",
      "2s",
      "--wrr-blackout",
      "0",
    ]);
    assert.equal(c.policy, "peak_ewma");
    assert.deepEqual(c.slowStart, { windowMs: 30_000, aggression: 2, minWeightPercent: 10 });
    assert.deepEqual(c.peakEwma, { defaultRttMs: 5, decayMs: 2000 });
    assert.deepEqual(c.weightedRoundRobin, { blackoutPeriodMs: 0 });
    assert.equal(config(["--policy", "weighted_round_robin"]).policy, "weighted_round_robin");
    rejects(["--slow-start-min-weight", "20"], /need --slow-start <window>/);
    rejects(
      ["--slow-start", "1s", "--slow-start-min-weight", "101"],
      /^--slow-start-min-weight must be a number from 0 to 100/,
    );
    rejects(["--peak-ewma-decay", "0"], /^--peak-ewma-decay must be more than 0/);
  });

  it("rejects a malformed target, naming --target", () => {
    rejects(["--target", "dns:///"], /^--target: /);
    rejects(["--target", "ipv4:nonsense"], /^--target: /);
    rejects(["--target", "dns:///rng-headless"], /^--target: .*port/);
  });

  it("rejects unknown flags, missing values and stray arguments", () => {
    rejects(["--taget", "x"], /^unknown flag --taget$/);
    rejects(["--target"], /^--target needs a value$/);
    rejects(["--json=yes"], /^--json takes no value$/);
    rejects(["--count", "3", "extra"], /^unexpected argument "extra"/);
  });
});
