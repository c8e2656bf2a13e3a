import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { createPoolTransport, METRIC, type PoolTransport } from "@rngbalance/dns-pool";
import { RNSchema, Rng, RngService } from "@rngbalance/proto";
import { startRngServer as startRealRngServer } from "@rngbalance/rng-server";
import { collect, histograms, testMeter, total } from "@rngbalance/testkit/metrics";
import { freePort, GRPC_JS_RNG } from "./support.js";
import { startRngServer } from "./telemetry-support.js";

// Registered globally, as an application does: W3C trace context propagator,
// AsyncLocalStorage context manager.
const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);
after(() => provider.shutdown());

describe("traces: a span per call and per attempt, the trace context in the request", () => {
  const servers: Awaited<ReturnType<typeof startRngServer>>[] = [];
  const pools: PoolTransport[] = [];

  before(async () => {
    servers.push(await startRngServer("127.0.0.2"), await startRngServer("127.0.0.3", { unavailable: true }));
  });
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(servers.map((s) => s.close()));
  });

  for (const fastPath of [true, false]) {
    it(`unary (${fastPath ? "fast path" : "connect-node"}): call span, attempt span naming the pod, traceparent`, async () => {
      exporter.reset();
      const server = servers[0]!;
      server.headers.length = 0;
      const pool = createPoolTransport({ target: `ipv4:${server.address}`, fastPath, healthCheck: false });
      pools.push(pool);
      const parent = trace.getTracer("test").startSpan("app");
      await context.with(trace.setSpan(context.active(), parent), () =>
        createClient(RngService, pool).generate({}, { headers: { "x-app": "1" } }),
      );
      parent.end();
      const spans = exporter.getFinishedSpans();
      const call = spans.find((s) => s.name === "rng.v1.RngService/Generate");
      const attempt = spans.find((s) => s.name === "Attempt.rng.v1.RngService/Generate");
      assert.ok(call && attempt, `spans: ${spans.map((s) => s.name)}`);
      assert.equal(call.kind, SpanKind.CLIENT);
      assert.equal(
        call.parentSpanContext?.spanId,
        parent.spanContext().spanId,
        "the app's span is the parent",
      );
      assert.equal(attempt.parentSpanContext?.spanId, call.spanContext().spanId);
      assert.equal(call.spanContext().traceId, parent.spanContext().traceId);
      assert.deepEqual(
        { ...call.attributes },
        {
          "rpc.system": "grpc",
          "rpc.service": "rng.v1.RngService",
          "rpc.method": "Generate",
          "rpc.grpc.status_code": 0,
        },
      );
      const [host, port] = server.address.split(":");
      assert.equal(attempt.attributes["server.address"], host);
      assert.equal(attempt.attributes["server.port"], Number(port));
      assert.equal(attempt.attributes["rpc.grpc.status_code"], 0);
      const sent = server.headers.at(-1);
      assert.equal(sent?.traceparent, `00-${call.spanContext().traceId}-${attempt.spanContext().spanId}-01`);
      assert.equal(sent?.["x-app"], "1", "the caller's headers are kept");
    });
  }

  it("a failed call: ERROR status on both spans; retries are events on the call span", async () => {
    exporter.reset();
    const pool = createPoolTransport({
      target: `ipv4:${servers[1]?.address}`,
      healthCheck: false,
      retryPolicy: { maxAttempts: 2, retryableCodes: [Code.Unavailable], initialBackoffMs: 1 },
    });
    pools.push(pool);
    await assert.rejects(createClient(Rng, pool).rng({}), { code: Code.Unavailable });
    const spans = exporter.getFinishedSpans();
    const call = spans.find((s) => s.name === "rng.Rng/Rng");
    const attempts = spans.filter((s) => s.name === "Attempt.rng.Rng/Rng");
    assert.equal(attempts.length, 2);
    assert.equal(call?.status.code, SpanStatusCode.ERROR);
    assert.equal(call?.attributes["rpc.grpc.status_code"], Code.Unavailable);
    assert.deepEqual(
      call?.events.map((e) => e.name),
      ["retry"],
    );
    assert.equal(attempts[1]?.attributes["previous-rpc-attempts"], 1);
    assert.ok(attempts.every((a) => a.status.code === SpanStatusCode.ERROR));
  });
});

describe("end to end: the pool and rng-server (connect-server) in one trace", () => {
  it("the server span is a child of the client's attempt span, which names the pod that answered", async () => {
    const quiet = { log() {}, child: () => quiet };
    const servers = [
      await startRealRngServer({ host: "127.0.0.2", port: 0, logger: quiet }),
      await startRealRngServer({ host: "127.0.0.3", port: 0, logger: quiet }),
    ];
    const pool = createPoolTransport({
      target: `ipv4:${servers.map((s) => `${s.address.address}:${s.address.port}`).join(",")}`,
      connect: "eager",
    });
    try {
      const client = createClient(RngService, pool);
      for (let i = 0; i < 4; i++) {
        exporter.reset();
        const answer = await client.generate({});
        const spans = exporter.getFinishedSpans();
        // The server's span ends once its response is handed to Node: maybe after the client's.
        for (let w = 0; w < 100 && !spans.some((s) => s.kind === SpanKind.SERVER); w++) {
          await new Promise((r) => setTimeout(r, 10));
          spans.splice(0, spans.length, ...exporter.getFinishedSpans());
        }
        const call = spans.find((s) => s.name === "rng.v1.RngService/Generate" && s.kind === SpanKind.CLIENT);
        const attempt = spans.find((s) => s.name === "Attempt.rng.v1.RngService/Generate");
        const server = spans.find((s) => s.kind === SpanKind.SERVER);
        assert.ok(call && attempt && server, `spans: ${spans.map((s) => `${s.name}/${s.kind}`)}`);
        assert.equal(server.spanContext().traceId, call.spanContext().traceId, "one trace");
        assert.equal(server.parentSpanContext?.spanId, attempt.spanContext().spanId);
        // rng-server answers with its name, "<host>/<address>:<port>": the pod the attempt span names.
        const pod = `${attempt.attributes["server.address"]}:${attempt.attributes["server.port"]}`;
        assert.ok(answer.instance.endsWith(`/${pod}`), `${answer.instance} answered; the span names ${pod}`);
      }
    } finally {
      await pool.close();
      await Promise.all(servers.map((s) => s.drain()));
    }
  });
});

describe("interop: the pool's telemetry against @grpc/grpc-js servers", () => {
  let server: grpc.Server;
  let pool: PoolTransport;
  let address = "";
  const seen: grpc.Metadata[] = [];

  before(async () => {
    const port = await freePort("127.0.0.2");
    server = new grpc.Server();
    server.addService(GRPC_JS_RNG, {
      Rng: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        seen.push(call.metadata);
        callback(null, create(RNSchema, { RN: 7n }));
      },
    });
    address = `127.0.0.2:${port}`;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  });
  after(async () => {
    await pool?.close();
    await new Promise((r) => server.tryShutdown(r));
  });

  it("records every client metric and sends traceparent", async () => {
    const { provider: meterProvider, reader } = testMeter();
    exporter.reset();
    pool = createPoolTransport({ target: `ipv4:${address}`, telemetry: { meterProvider } });
    const client = createClient(Rng, pool);
    for (let i = 0; i < 5; i++) assert.equal((await client.rng({})).RN, 7n);
    const m = await collect(reader);
    const ok = { "grpc.method": "rng.Rng/Rng", "grpc.status": "OK" };
    assert.equal(total(m, METRIC.attemptStarted, { "grpc.method": "rng.Rng/Rng" }), 5);
    assert.equal(total(m, METRIC.attemptDuration, ok), 5);
    assert.equal(total(m, METRIC.callDuration, ok), 5);
    assert.equal(histograms(m, METRIC.attemptRcvdSize, ok)[0]?.sum, 5 * 2, "RN{RN: 7} is 2 bytes");
    assert.equal(total(m, METRIC.connectionsSucceeded), 1);
    const calls = exporter.getFinishedSpans().filter((s) => s.name === "rng.Rng/Rng");
    assert.equal(calls.length, 5);
    assert.equal(
      seen.at(-1)?.get("traceparent")[0]?.toString().split("-")[1],
      calls.at(-1)?.spanContext().traceId,
    );
  });
});
