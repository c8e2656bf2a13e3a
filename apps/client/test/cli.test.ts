import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RngFleet, startRngFleet } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { runClient, startClient } from "./helpers.js";

const REQUEST = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d request (\d+) from (\S+) \([\d.]+ ms\)$/;

/** [rn, address] of every request line. */
function requests(stdout: string): [string, string][] {
  return stdout
    .split("\n")
    .map((l) => REQUEST.exec(l))
    .filter((m) => m !== null)
    .map((m) => [m[1]!, m[2]!]);
}

describe("rng-client against a local fleet of 3", () => {
  let fleet: RngFleet;
  /** address -> rn, as the servers announced at start. */
  let rnOf: Map<string, string>;
  before(async () => {
    fleet = await startRngFleet({ replicas: 3, ttlSeconds: 1 });
    rnOf = new Map(fleet.servers.map((s) => [s.address, s.rn.toString()]));
  });
  after(async () => {
    await fleet.close();
  });

  it("rotates over the 3 instances, 10 calls each, and sums them up", async () => {
    const r = await runClient(["--target", fleet.target, "--interval", "10ms", "--count", "30"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const calls = requests(r.stdout);
    assert.equal(calls.length, 30, r.stdout);
    for (const [rn, address] of calls) assert.equal(rn, rnOf.get(address), `${address} answered ${rn}`);
    const counts = new Map<string, number>();
    for (const [rn] of calls) counts.set(rn, (counts.get(rn) ?? 0) + 1);
    assert.deepEqual([...counts.values()], [10, 10, 10]);
    assert.deepEqual(new Set(counts.keys()), new Set(rnOf.values()));
    // Round robin: every run of 3 consecutive calls reaches all 3 instances.
    for (let i = 0; i + 3 <= calls.length; i++) {
      assert.equal(new Set(calls.slice(i, i + 3).map(([rn]) => rn)).size, 3, `calls ${i}..${i + 2}`);
    }
    assert.match(r.stdout, /^summary: 30 calls to 3 addresses in [\d.]+ s, no errors$/m);
    for (const s of fleet.servers) {
      assert.match(
        r.stdout,
        new RegExp(`^${s.address.replaceAll(".", "\\.")}\\s+10\\s+0\\s+[\\d.]+\\s+[\\d.]+\\s+${s.rn}$`, "m"),
      );
    }
    assert.match(r.stdout, /^total\s+30\s+0\s/m);
  });

  it("attributes every call to the right address with 8 calls in flight", async () => {
    const r = await runClient([
      "--target",
      fleet.target,
      "--interval",
      "0",
      "--count",
      "80",
      "--concurrency",
      "8",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const calls = requests(r.stdout);
    assert.equal(calls.length, 80);
    for (const [rn, address] of calls) assert.equal(rn, rnOf.get(address), `${address} answered ${rn}`);
    assert.equal(new Set(calls.map(([, a]) => a)).size, 3);
  });

  it("runs 64 workers with a pause between calls and warns of nothing", async () => {
    const r = await runClient([
      "--target",
      fleet.target,
      "--interval",
      "1ms",
      "--count",
      "200",
      "--concurrency",
      "64",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stderr, /MaxListenersExceededWarning/);
  });

  it("sends everything to one instance with --policy pick_first", async () => {
    const r = await runClient([
      "--target",
      fleet.target,
      "--policy",
      "pick_first",
      "--interval",
      "0",
      "--count",
      "9",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(new Set(requests(r.stdout).map(([rn]) => rn)).size, 1);
  });

  it("sends every call with one --hash-key to one instance with --policy ring_hash, and other keys elsewhere", async () => {
    const reached = new Set<string>();
    for (const key of ["user-1", "user-2", "user-3", "user-4", "user-5", "user-6"]) {
      const r = await runClient([
        "--target",
        fleet.target,
        "--policy",
        "ring_hash",
        "--hash-key",
        key,
        "--interval",
        "0",
        "--count",
        "6",
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const calls = requests(r.stdout);
      assert.equal(calls.length, 6, r.stdout);
      const instances = new Set(calls.map(([, address]) => address));
      assert.equal(instances.size, 1, `${key} reached ${[...instances].join(", ")}`);
      reached.add([...instances][0]!);
    }
    // Six keys over three instances: all on one would mean the key is not used (1 in 243 by chance).
    assert.ok(reached.size >= 2, `every key on ${[...reached].join(", ")}`);
  });

  it("answers every call with --hedge-delay and --max-connections-per-endpoint", async () => {
    const r = await runClient([
      "--target",
      fleet.target,
      "--hedge-delay",
      "50ms",
      "--max-connections-per-endpoint",
      "4",
      "--concurrency",
      "8",
      "--interval",
      "0",
      "--count",
      "60",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(requests(r.stdout).length, 60, r.stdout);
    assert.match(r.stdout, /^summary: 60 calls to 3 addresses in [\d.]+ s, no errors$/m);
  });

  for (const protocol of ["grpc-web", "connect"]) {
    it(`speaks ${protocol}`, async () => {
      const r = await runClient([
        "--target",
        fleet.target,
        "--protocol",
        protocol,
        "--interval",
        "0",
        "--count",
        "6",
      ]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const calls = requests(r.stdout);
      assert.equal(calls.length, 6);
      assert.equal(new Set(calls.map(([rn]) => rn)).size, 3);
    });
  }

  it("prints one JSON object per call and the summary as JSON with --json", async () => {
    const r = await runClient(["--target", fleet.target, "--interval", "0", "--count", "6", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 7);
    for (const call of lines.slice(0, 6)) {
      assert.deepEqual(Object.keys(call), ["time", "rn", "address", "latencyMs", "code"]);
      assert.equal(call.code, "OK");
      assert.equal(call.rn, rnOf.get(call.address));
      assert.ok(!Number.isNaN(Date.parse(call.time)));
      assert.equal(typeof call.latencyMs, "number");
    }
    const { summary } = lines[6];
    assert.equal(summary.total.calls, 6);
    assert.equal(summary.total.errors, 0);
    assert.equal(summary.endpoints.length, 3);
    for (const e of summary.endpoints) assert.equal(e.calls, 2);
  });

  it("stops on SIGINT, prints the summary and exits 0", async () => {
    const c = startClient(["--target", fleet.target, "--interval", "20ms"]);
    try {
      await c.waitForLines(REQUEST, 4);
      c.child.kill("SIGINT");
      const status = await c.exited;
      assert.deepEqual(status, { code: 0, signal: null }, c.stdout() + c.stderr());
      assert.match(c.stdout(), /^summary: \d+ calls to 3 addresses in [\d.]+ s, no errors$/m);
    } finally {
      c.child.kill("SIGKILL");
    }
  });

  it("prints the pool's events on stderr with --verbose", async () => {
    const r = await runClient(["--target", fleet.target, "--interval", "0", "--count", "3", "-v"]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /^rng-client: resolved 3 addresses \(\+127\.0\.0\.\d+:\d+ /m);
    assert.match(r.stderr, /CONNECTING -> READY/);
    assert.equal(requests(r.stdout).length, 3);
  });

  it("prints UNAVAILABLE lines and exits 1 when the name has no servers", async () => {
    const r = await runClient([
      "--target",
      `dns://${fleet.dns.address}/nosuch:${fleet.port}`,
      "--interval",
      "10ms",
      "--count",
      "3",
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const errors = r.stdout.split("\n").filter((l) => / error UNAVAILABLE .*: no ready endpoint/.test(l));
    assert.equal(errors.length, 3, r.stdout);
    assert.match(r.stdout, /NXDOMAIN/);
    assert.match(r.stdout, /^summary: 3 calls to 0 addresses in [\d.]+ s, errors: 3 UNAVAILABLE$/m);
    assert.match(r.stdout, /^\(none\)\s+3\s+3\s/m);
  });
});

describe("rng-client without servers or with bad flags", () => {
  it("prints UNAVAILABLE lines and exits 1 when nothing listens", async () => {
    const port = await freePort();
    const r = await runClient(["--target", `ipv4:127.0.0.1:${port}`, "--interval", "10ms", "--count", "3"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const errors = r.stdout.split("\n").filter((l) => / error UNAVAILABLE .*ECONNREFUSED/.test(l));
    assert.equal(errors.length, 3, r.stdout);
  });

  const bad: [string[], RegExp][] = [
    [["--interval", "fast"], /--interval must be a duration such as 500ms, 1s or 2m; got "fast"/],
    [["--count", "many"], /--count must be a whole number/],
    [
      ["--policy", "random"],
      /--policy must be round_robin, pick_first, least_request, peak_ewma, weighted_round_robin, ring_hash; got "random"/,
    ],
    [["--target", "dns:///no-port"], /--target: /],
    [["--bogus"], /unknown flag --bogus/],
    [["--timeout"], /--timeout needs a value/],
  ];
  for (const [args, message] of bad) {
    it(`exits 2 for ${args.join(" ")}`, async () => {
      const r = await runClient(args);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, new RegExp(`^rng-client: ${message.source}`));
      assert.match(r.stderr, /rng-client --help/);
    });
  }

  it("prints usage and exits 0 for --help", async () => {
    const r = await runClient(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Usage: rng-client \[flags\]/);
    assert.match(r.stdout, /--target <target>/);
  });
});
