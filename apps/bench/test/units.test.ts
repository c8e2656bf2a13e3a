import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Balanceable, Picker } from "@rngbalance/dns-pool";
import { parseBenchFlags } from "../src/flags.js";
import type { RepeatCell } from "../src/harness/cell.js";
import { argProblem } from "../src/harness/child.js";
import { Histogram } from "../src/harness/histogram.js";
import { spread } from "../src/harness/stats.js";
import { summarize } from "../src/tables/clients/summary.js";
import { realPickers } from "../src/tables/micro/pick.js";
import { summarizeServers } from "../src/tables/servers/summary.js";

describe("Histogram", () => {
  it("gives percentiles within about 1 %", () => {
    const h = new Histogram();
    for (let v = 1; v <= 10_000; v++) h.record(v);
    assert.equal(h.count, 10_000);
    const p50 = h.percentile(50);
    const p99 = h.percentile(99);
    assert.ok(Math.abs(p50 - 5000) / 5000 < 0.011, `p50 ${p50}`);
    assert.ok(Math.abs(p99 - 9900) / 9900 < 0.011, `p99 ${p99}`);
    assert.equal(new Histogram().percentile(50), 0);
  });

  it("clamps to the values seen", () => {
    const h = new Histogram();
    h.record(0.2);
    h.record(0.3);
    assert.ok(h.percentile(99) <= 0.3);
  });
});

describe("spread", () => {
  it("gives min, median and max", () => {
    assert.deepEqual(spread([3, 1, 2]), { min: 1, median: 2, max: 3 });
    assert.deepEqual(spread([4, 1, 2, 3]), { min: 1, median: 2.5, max: 4 });
    assert.ok(Number.isNaN(spread([]).median));
  });
});

describe("summarize", () => {
  const cell = (client: RepeatCell["client"], repeat: number, callsPerSecond: number): RepeatCell => ({
    client,
    serverSet: "rng-server",
    concurrency: 16,
    repeat,
    elapsedMs: 1000,
    calls: callsPerSecond,
    callsPerSecond,
    p50Us: 100,
    p99Us: 200,
    cpuUsPerCall: 50,
    rssMb: 80,
    errors: 0,
    firstError: undefined,
    spread: undefined,
    windowUs: [0, 1000],
  });

  it("pairs the ratios per repeat", () => {
    const cells = [
      cell("pool-rr", 0, 200),
      cell("stock-connect", 0, 100),
      cell("grpc-js", 0, 400),
      cell("pool-rr", 1, 300),
      cell("stock-connect", 1, 100),
      cell("grpc-js", 1, 300),
    ];
    const { summary, ratios } = summarize(cells, [16]);
    const rr = ratios.find((r) => r.serverSet === "rng-server");
    assert.deepEqual(rr?.poolOverStockConnect, { min: 2, median: 2.5, max: 3 });
    assert.deepEqual(rr?.poolOverGrpcJs, { min: 0.5, median: 0.75, max: 1 });
    assert.deepEqual(rr?.cpuGrpcJsOverPool, { min: 1, median: 1, max: 1 });
    assert.deepEqual(summary.find((r) => r.client === "pool-rr")?.callsPerSecond, {
      min: 200,
      median: 250,
      max: 300,
    });
  });
});

describe("summarizeServers", () => {
  const cell = (server: RepeatCell["serverSet"], repeat: number, serverCpuUsPerCall: number): RepeatCell => ({
    client: "pool-rr",
    serverSet: server,
    concurrency: 64,
    repeat,
    elapsedMs: 1000,
    calls: 1000,
    callsPerSecond: 100_000 / serverCpuUsPerCall,
    p50Us: 100,
    p99Us: 200,
    cpuUsPerCall: 50,
    rssMb: 80,
    errors: 0,
    firstError: undefined,
    spread: undefined,
    windowUs: [0, 1000],
    serverCpuUsPerCall,
    serverRssMb: 70,
  });

  it("summarizes each server and pairs rng-server's CPU and calls/s with each other server's per repeat", () => {
    const cells = [
      cell("rng-server", 0, 40),
      cell("grpc-js", 0, 80),
      cell("bare-http2", 0, 20),
      cell("rng-server", 1, 60),
      cell("grpc-js", 1, 60),
      cell("bare-http2", 1, 40),
    ];
    const { summary, ratios } = summarizeServers(cells, [64]);
    assert.deepEqual(
      summary.map((r) => [r.server, r.serverCpuUsPerCall.median, r.serverRssMb.median]),
      [
        ["rng-server", 50, 70],
        ["grpc-js", 70, 70],
        ["bare-http2", 30, 70],
      ],
    );
    const r = ratios[0];
    assert.deepEqual(r?.cpu["grpc-js"], { min: 0.5, median: 0.75, max: 1 });
    assert.deepEqual(r?.cpu["bare-http2"], { min: 1.5, median: 1.75, max: 2 });
    assert.deepEqual(r?.callsPerSecond["grpc-js"], { min: 1, median: 1.5, max: 2 });
    assert.equal(r?.cpu["stock-connect"], undefined, "no ratio for a server that did not run");
  });
});

describe("parseBenchFlags", () => {
  it("has full and quick defaults", () => {
    const full = parseBenchFlags([]);
    assert.ok(!full.help);
    assert.equal(full.config.repeats, 3);
    assert.deepEqual(full.config.concurrencies, [1, 16, 64]);
    const quick = parseBenchFlags(["--", "--quick"]);
    assert.ok(!quick.help);
    assert.equal(quick.config.repeats, 1);
    assert.equal(quick.config.durationMs, 500);
    assert.deepEqual(quick.config.concurrencies, [1, 16]);
  });

  it("measures every table unless --tables says otherwise", () => {
    const all = parseBenchFlags([]);
    assert.ok(!all.help);
    assert.deepEqual(all.config.tables, ["clients", "servers", "micro", "telemetry"]);
    assert.equal(all.config.clients, undefined, "every client by default");
    const servers = parseBenchFlags(["--tables", "servers"]);
    assert.ok(!servers.help);
    assert.deepEqual(servers.config.tables, ["servers"]);
    assert.throws(() => parseBenchFlags(["--tables", "clients,nope"]), /--tables/);
    const noMicro = parseBenchFlags(["--no-micro"]);
    assert.ok(!noMicro.help);
    assert.deepEqual(
      noMicro.config.tables,
      ["clients", "servers", "telemetry"],
      "--no-micro drops the micro table",
    );
  });

  it("--clients picks clients by name and rejects unknown ones", () => {
    const some = parseBenchFlags(["--clients", "pool-rr, pool-metrics"]);
    assert.ok(!some.help);
    assert.deepEqual(some.config.clients, ["pool-rr", "pool-metrics"]);
    assert.throws(() => parseBenchFlags(["--clients", "pool-rr,nope"]), /unknown client nope/);
  });

  it("rejects bad values", () => {
    assert.throws(() => parseBenchFlags(["--concurrency", "1,x"]), /--concurrency/);
    assert.throws(() => parseBenchFlags(["--nope"]), /unknown flag --nope/);
  });
});

describe("realPickers", () => {
  it("times any picker class with the pool's constructor shape", () => {
    class Rotation implements Picker<Balanceable> {
      constructor(
        private readonly ready: readonly Balanceable[],
        private readonly cursor: { next: number } = { next: 0 },
      ) {}
      pick() {
        return this.ready[this.cursor.next++ % this.ready.length];
      }
    }
    const result = realPickers({ sizes: [3, 100], picks: 1000, rounds: 3 }, Rotation, Rotation);
    assert.equal(result.method, "picker");
    assert.equal(result.unit, "ns/pick");
    assert.deepEqual(
      result.rows.map((r) => `${r.policy} ${r.endpoints}`),
      ["round_robin 3", "round_robin 100", "least_request 3", "least_request 100"],
    );
    assert.ok(result.rows.every((r) => r.value > 0));
  });
});

describe("argProblem (the children's one JSON argument)", () => {
  const spec = { host: "string", port: "number", healthCheck: "boolean?" } as const;

  it("accepts an object with every field of the right type, optional ones absent", () => {
    assert.equal(argProblem({ host: "127.0.0.1", port: 0 }, spec), undefined);
    assert.equal(argProblem({ host: "127.0.0.1", port: 0, healthCheck: false }, spec), undefined);
  });

  it("names the field that is missing, mistyped or unknown", () => {
    assert.equal(argProblem([], spec), "must be a JSON object");
    assert.equal(argProblem({ port: 0 }, spec), 'has no "host" (string)');
    assert.equal(argProblem({ host: "h", port: "0" }, spec), 'field "port" must be number, got string');
    assert.equal(
      argProblem({ host: "h", port: 0, healthCheck: null }, spec),
      'field "healthCheck" must be boolean, got null',
    );
    assert.equal(argProblem({ host: "h", port: 0, hots: 1 }, spec), "has unknown fields hots");
  });
});

describe("child entry points", () => {
  const src = fileURLToPath(new URL("../src/", import.meta.url));
  const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts"));

  it("are exactly the *.child.ts files (besides the two commands), and each reads its argument with childArgs", () => {
    const mains = files.filter((f) =>
      readFileSync(path.join(src, f), "utf8").startsWith("#!/usr/bin/env node"),
    );
    const children = files.filter((f) => f.endsWith(".child.ts"));
    assert.ok(children.length >= 8, `children: ${children.join(", ")}`);
    assert.deepEqual(
      mains.filter((f) => !f.endsWith(".child.ts")).sort(),
      ["lb/main.ts", "main.ts"].map((f) => path.normalize(f)),
      "an entry point not named *.child.ts",
    );
    for (const child of children) {
      const text = readFileSync(path.join(src, child), "utf8");
      assert.match(text, /childArgs</, `${child} does not read its argument with childArgs`);
      assert.doesNotMatch(text, /process\.argv/, `${child} reads process.argv itself`);
    }
  });
});
