import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { decodeBinaryHeader } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ORCA_REQUEST_HEADER, ORCA_TRAILER } from "@rngbalance/connect-server";
import type { RngServerProcess } from "@rngbalance/rng-fleet";
import { ConfigError, parseServerConfig } from "@rngbalance/rng-server";
import { rngClient, spawnAppServer } from "./helpers.js";

/** The upstream OrcaLoadReport, as @grpc/grpc-js ships it (with its validate annotations), through proto-loader. */
function upstreamOrcaDecoder(): (bytes: Uint8Array) => Record<string, unknown> {
  const require = createRequire(import.meta.url);
  // .../@grpc/grpc-js/build/src/index.js -> .../@grpc/grpc-js
  const grpcJs = path.resolve(path.dirname(require.resolve("@grpc/grpc-js")), "../..");
  const loader = createRequire(require.resolve("@grpc/grpc-js"))("@grpc/proto-loader");
  const definition = loader.loadSync("xds/data/orca/v3/orca_load_report.proto", {
    keepCase: true,
    defaults: true,
    includeDirs: [path.join(grpcJs, "proto/xds"), path.join(grpcJs, "proto/protoc-gen-validate")],
  });
  const type = definition["xds.data.orca.v3.OrcaLoadReport"];
  return (bytes) => type.deserialize(Buffer.from(bytes));
}

describe("rng-server --fault", () => {
  const fault = (value: string) => {
    const parsed = parseServerConfig(["--fault", value], {});
    assert.equal(parsed.help, false);
    return parsed.help ? undefined : parsed.config.fault;
  };

  it("takes none, unavailable, not-serving, latency:<duration> and cpu:<duration>, also from RNG_FAULT", () => {
    assert.equal(fault("not-serving"), "not-serving");
    assert.deepEqual(fault("latency:50ms"), { kind: "latency", ms: 50 });
    assert.deepEqual(fault("cpu:1.5s"), { kind: "cpu", ms: 1500 });
    const fromEnv = parseServerConfig([], { RNG_FAULT: "latency:2s" });
    assert.deepEqual(!fromEnv.help && fromEnv.config.fault, { kind: "latency", ms: 2000 });
  });

  it("rejects bad forms with a message that says what is accepted", () => {
    const bad = (value: string, pattern: RegExp) =>
      assert.throws(
        () => parseServerConfig(["--fault", value], {}),
        (e: unknown) => e instanceof ConfigError && pattern.test(e.message),
        value,
      );
    bad("slow", /^--fault: must be none, unavailable, not-serving, latency:<duration> or cpu:<duration>/);
    bad("latency:", /^--fault: latency: needs a duration from 1ms to 60s, such as latency:50ms; got ""/);
    bad("latency:50", /latency: needs a duration/);
    bad("cpu:0", /cpu: needs a duration/);
    bad("cpu:2m", /cpu: needs a duration from 1ms to 60s/);
    assert.throws(() => parseServerConfig([], { RNG_FAULT: "latency" }), /RNG_FAULT: must be none/);
  });
});

describe("rng-server faults and ORCA reports (child processes)", () => {
  let slow: RngServerProcess;
  let always: RngServerProcess;
  let onRequest: RngServerProcess;
  let off: RngServerProcess;
  before(async () => {
    [slow, always, onRequest, off] = await Promise.all([
      spawnAppServer({ args: ["--fault", "latency:120ms"] }),
      spawnAppServer({ args: ["--orca", "always", "--orca-interval-ms", "100", "--fault", "cpu:3ms"] }),
      spawnAppServer({ env: { RNG_ORCA: "on-request" } }),
      spawnAppServer(),
    ]);
  });
  after(async () => {
    await Promise.all([slow, always, onRequest, off].map((s) => s.stop()));
  });

  it("latency:120ms answers every call at least that late", async () => {
    const client = rngClient(createGrpcTransport({ baseUrl: `http://${slow.address}` }));
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      assert.equal((await client.rng({})).RN, slow.rn);
      // Timers never fire early by more than a millisecond; no upper bound (the machine is shared).
      assert.ok(performance.now() - started >= 118, "late");
    }
  });

  it('--orca always: every unary response carries a report that the upstream proto decodes, with load from "cpu:3ms"', async () => {
    const client = rngClient(createGrpcTransport({ baseUrl: `http://${always.address}` }));
    const decode = upstreamOrcaDecoder();
    let last: Record<string, unknown> | undefined;
    // The busiest 100 ms window: on a loaded machine one call can outlast a
    // window, and the report of that window then rightly says 0 calls/s.
    let maxQps = 0;
    let maxEventLoop = 0;
    // A second of calls: the 100 ms sampler sees the calls and the CPU they burn.
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      let trailer: Headers | undefined;
      await client.rng({}, { onTrailer: (t) => (trailer = t) });
      const value = trailer?.get(ORCA_TRAILER);
      assert.ok(value, "trailer present on every call");
      last = decode(decodeBinaryHeader(value));
      maxQps = Math.max(maxQps, last.rps_fractional as number);
      maxEventLoop = Math.max(maxEventLoop, last.application_utilization as number);
    }
    assert.ok(last);
    assert.ok(maxQps > 10, `qps at most ${maxQps}`);
    assert.ok((last.cpu_utilization as number) > 0, `cpu ${last.cpu_utilization}`);
    assert.ok(maxEventLoop > 0.2, `event loop at most ${maxEventLoop}`);
    assert.ok((last.mem_utilization as number) > 0 && (last.mem_utilization as number) <= 1);
    assert.equal(last.eps, 0);
  });

  it("--orca on-request (RNG_ORCA): a report only for calls that ask; off by default", async () => {
    const asks = rngClient(createGrpcTransport({ baseUrl: `http://${onRequest.address}` }));
    const seen = async (client: typeof asks, headers?: Record<string, string>) => {
      let trailer: Headers | undefined;
      await client.rng({}, { headers, onTrailer: (t) => (trailer = t) });
      return trailer?.has(ORCA_TRAILER) ?? false;
    };
    assert.equal(await seen(asks), false);
    assert.equal(await seen(asks, { [ORCA_REQUEST_HEADER]: "BIN" }), true);
    const plain = rngClient(createGrpcTransport({ baseUrl: `http://${off.address}` }));
    assert.equal(await seen(plain, { [ORCA_REQUEST_HEADER]: "BIN" }), false);
  });
});
