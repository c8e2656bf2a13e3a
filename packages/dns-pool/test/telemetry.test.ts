import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { metrics } from "@opentelemetry/api";
import { createPoolTransport, METRIC, type PoolTransport, TELEMETRY_BUCKETS } from "@rngbalance/dns-pool";
import { Rng, RngService } from "@rngbalance/proto";
import { collect, histograms, testMeter, total } from "@rngbalance/testkit/metrics";
import { startRngServer } from "./telemetry-support.js";

const METHOD = { "grpc.method": "rng.v1.RngService/Generate" };

describe("metrics: gRFC A66/A94/A96 names and the pool's own, recorded through the API", () => {
  const servers: Awaited<ReturnType<typeof startRngServer>>[] = [];
  const pools: PoolTransport[] = [];
  let target = "";
  let failing = "";

  before(async () => {
    servers.push(await startRngServer("127.0.0.2"), await startRngServer("127.0.0.3"));
    servers.push(await startRngServer("127.0.0.4", { unavailable: true }));
    target = `ipv4:${servers[0]?.address},${servers[1]?.address}`;
    failing = `ipv4:${servers[2]?.address}`;
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  for (const fastPath of [true, false]) {
    it(`unary (${fastPath ? "fast path" : "connect-node"}): per attempt, per call, per endpoint`, async () => {
      const { provider, reader } = testMeter();
      const pool = createPoolTransport({
        target,
        fastPath,
        healthCheck: false,
        connect: "eager",
        telemetry: { meterProvider: provider, endpointLabel: true },
      });
      pools.push(pool);
      const client = createClient(RngService, pool);
      for (let i = 0; i < 10; i++) await client.generate({ delayMs: 0 });
      const m = await collect(reader);
      const ok = { ...METHOD, "grpc.target": target, "grpc.status": "OK" };
      assert.equal(total(m, METRIC.attemptStarted, { ...METHOD, "grpc.target": target }), 10);
      assert.equal(total(m, METRIC.attemptDuration, ok), 10);
      assert.equal(total(m, METRIC.callDuration, ok), 10);
      assert.equal(m.get(METRIC.callDuration)?.unit, "s");
      assert.equal(m.get(METRIC.attemptSentSize)?.unit, "By");
      const [latency] = histograms(m, METRIC.callDuration, ok);
      assert.deepEqual(
        latency?.buckets.boundaries,
        TELEMETRY_BUCKETS.latency,
        "A66 latency buckets (advice)",
      );
      const [sent] = histograms(m, METRIC.attemptSentSize, ok);
      const [rcvd] = histograms(m, METRIC.attemptRcvdSize, ok);
      assert.deepEqual(sent?.buckets.boundaries, TELEMETRY_BUCKETS.size);
      // GenerateRequest{} is 0 bytes; the response carries rn and instance.
      assert.equal(sent?.sum, 0);
      assert.ok((rcvd?.sum ?? 0) > 10 * 10, `response bytes: ${rcvd?.sum}`);
      const perEndpoint = (m.get(METRIC.picks)?.points ?? []).map((p) => [
        p.attributes["rngbalance.endpoint"],
        p.value,
      ]);
      assert.deepEqual(
        new Map(perEndpoint as [string, number][]),
        new Map([
          [servers[0]?.address, 5],
          [servers[1]?.address, 5],
        ]),
        "round robin: 5 picks per endpoint",
      );
      assert.equal(total(m, METRIC.connectionsSucceeded, { "grpc.target": target }), 2);
      assert.equal(total(m, METRIC.openConnections), 2);
      assert.equal(total(m, METRIC.resolutions, { "rngbalance.result": "ok" }), 1);
      assert.equal(total(m, METRIC.endpoints, { "rngbalance.endpoint.state": "READY" }), 2);
      assert.equal(total(m, METRIC.queueWaiting), 0);
      assert.equal(total(m, METRIC.callRetries), 0, "retries are recorded only for calls that retried");
      await pool.close();
      const closed = await collect(reader);
      assert.equal(total(closed, METRIC.openConnections), 0);
      assert.equal(
        total(closed, METRIC.disconnections, { "grpc.disconnect_error": "subchannel shutdown" }),
        2,
      );
    });
  }

  it("pools on one target and one MeterProvider add up (attempts started, calls, connections)", async () => {
    const { provider, reader } = testMeter();
    const make = () =>
      createPoolTransport({ target, healthCheck: false, telemetry: { meterProvider: provider } });
    const a = make();
    const b = make();
    pools.push(a, b);
    for (let i = 0; i < 7; i++) await createClient(RngService, a).generate({ delayMs: 0 });
    for (let i = 0; i < 3; i++) await createClient(RngService, b).generate({ delayMs: 0 });
    const series = { ...METHOD, "grpc.target": target };
    const m = await collect(reader);
    assert.equal(total(m, METRIC.attemptStarted, series), 10, "7 + 3 attempts");
    assert.equal(total(m, METRIC.callDuration, { ...series, "grpc.status": "OK" }), 10);
    await a.close();
    await createClient(RngService, b).generate({ delayMs: 0 });
    const later = await collect(reader);
    assert.equal(total(later, METRIC.attemptStarted, series), 11, "a closed pool's attempts still count");
    const last = await collect(reader);
    assert.equal(total(last, METRIC.attemptStarted, series), 11, "and keep counting once it is gone");
  });

  it("errors by status, policy retries (A96) and a stream", async () => {
    const { provider, reader } = testMeter();
    const pool = createPoolTransport({
      target: failing,
      healthCheck: false,
      outlierDetection: false,
      retryPolicy: { maxAttempts: 3, retryableCodes: [Code.Unavailable], initialBackoffMs: 1 },
      telemetry: { meterProvider: provider },
    });
    pools.push(pool);
    const client = createClient(Rng, pool);
    for (let i = 0; i < 4; i++) await assert.rejects(client.rng({}), { code: Code.Unavailable });
    const m = await collect(reader);
    const method = { "grpc.method": "rng.Rng/Rng", "grpc.target": failing };
    assert.equal(total(m, METRIC.attemptStarted, method), 12, "3 attempts per call");
    assert.equal(total(m, METRIC.attemptDuration, { ...method, "grpc.status": "UNAVAILABLE" }), 12);
    assert.equal(total(m, METRIC.callDuration, { ...method, "grpc.status": "UNAVAILABLE" }), 4);
    const [retries] = histograms(m, METRIC.callRetries, method);
    assert.equal(retries?.count, 4);
    assert.equal(retries?.sum, 8, "2 retries per call");
    assert.equal(histograms(m, METRIC.callTransparentRetries, method)[0]?.sum, 0);
    assert.ok((histograms(m, METRIC.callRetryDelay, method)[0]?.sum ?? -1) >= 0);

    const ok = createPoolTransport({ target, healthCheck: false, telemetry: { meterProvider: provider } });
    pools.push(ok);
    let n = 0;
    for await (const _ of createClient(RngService, ok).generateStream({ count: 3 })) n++;
    assert.equal(n, 3);
    const after = await collect(reader);
    const stream = { "grpc.method": "rng.v1.RngService/GenerateStream", "grpc.status": "OK" };
    assert.equal(total(after, METRIC.callDuration, stream), 1);
    assert.ok(
      (histograms(after, METRIC.attemptRcvdSize, stream)[0]?.sum ?? 0) > 0,
      "stream messages counted",
    );
  });

  it("DNS-less failures: an unreachable endpoint counts failed connection attempts", async () => {
    const { provider, reader } = testMeter();
    const pool = createPoolTransport({
      target: "ipv4:127.0.0.1:1",
      healthCheck: false,
      reconnectBackoff: { initialMs: 60_000 },
      telemetry: { meterProvider: provider },
    });
    pools.push(pool);
    await assert.rejects(createClient(Rng, pool).rng({}), { code: Code.Unavailable });
    const m = await collect(reader);
    assert.equal(total(m, METRIC.connectionsFailed), 1);
    assert.equal(total(m, METRIC.endpoints, { "rngbalance.endpoint.state": "TRANSIENT_FAILURE" }), 1);
    assert.equal(
      total(m, METRIC.queueDuration, { "rngbalance.result": "failed" }),
      1,
      "the call waited, then failed",
    );
  });

  for (const fastPath of [true, false]) {
    it(`disabledMetrics leaves those instruments out and keeps the rest (${fastPath ? "fast path" : "connect-node"})`, async () => {
      const { provider, reader } = testMeter();
      const pool = createPoolTransport({
        target,
        fastPath,
        healthCheck: false,
        telemetry: {
          meterProvider: provider,
          disabledMetrics: [METRIC.attemptSentSize, METRIC.attemptRcvdSize],
        },
      });
      pools.push(pool);
      for (let i = 0; i < 3; i++) await createClient(RngService, pool).generate({ delayMs: 0 });
      const m = await collect(reader);
      const ok = { ...METHOD, "grpc.target": target, "grpc.status": "OK" };
      assert.equal(m.get(METRIC.attemptSentSize), undefined, "no sent-size histogram");
      assert.equal(m.get(METRIC.attemptRcvdSize), undefined, "no received-size histogram");
      assert.equal(total(m, METRIC.attemptDuration, ok), 3);
      assert.equal(total(m, METRIC.callDuration, ok), 3);
    });
  }

  it("disabledMetrics with a name the pool does not record: INVALID_ARGUMENT naming it", () => {
    assert.throws(
      () =>
        createPoolTransport({ target, telemetry: { disabledMetrics: ["grpc.client.attempt.sent_size"] } }),
      (err: unknown) =>
        err instanceof ConnectError &&
        err.code === Code.InvalidArgument &&
        /"grpc\.client\.attempt\.sent_size" is not a metric the pool records/.test(err.rawMessage),
    );
  });

  it("the global MeterProvider by default; telemetry: false records nothing even then", async () => {
    const { provider, reader } = testMeter();
    metrics.setGlobalMeterProvider(provider);
    try {
      const off = createPoolTransport({ target, healthCheck: false, telemetry: false });
      const on = createPoolTransport({ target: `${target},${servers[0]?.address}`, healthCheck: false });
      pools.push(off, on);
      await createClient(Rng, off).rng({});
      await createClient(Rng, on).rng({});
      const m = await collect(reader);
      assert.equal(total(m, METRIC.callDuration, { "grpc.target": target }), 0);
      assert.equal(total(m, METRIC.callDuration, { "grpc.target": `${target},${servers[0]?.address}` }), 1);
    } finally {
      metrics.disable();
    }
  });
});
