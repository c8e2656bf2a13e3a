import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { Histogram, MetricReader } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { RngService } from "@rngbalance/proto";
import { collect, testMeter } from "@rngbalance/testkit/metrics";
import {
  type ConnectServer,
  createJsonLogger,
  MessageCounter,
  ServerTelemetry,
  startConnectServer,
} from "../src/index.js";

/** Histogram points of `name` by their grpc.method / grpc.status. */
async function points(reader: MetricReader, name: string): Promise<Map<string, Histogram>> {
  const out = new Map<string, Histogram>();
  for (const p of (await collect(reader)).get(name)?.points ?? []) {
    out.set(`${p.attributes["grpc.method"]} ${p.attributes["grpc.status"]}`, p.value as Histogram);
  }
  return out;
}

describe("MessageCounter: message bytes of enveloped bodies, across chunk boundaries", () => {
  it("gRPC-Web: two messages and a trailer frame, split anywhere", () => {
    const frame = (flags: number, payload: string) => {
      const b = Buffer.alloc(5 + payload.length);
      b[0] = flags;
      b.writeUInt32BE(payload.length, 1);
      b.write(payload, 5);
      return b;
    };
    const body = Buffer.concat([
      frame(0, "abc"),
      frame(0, ""),
      frame(0, "hello"),
      frame(0x80, "grpc-status: 0\r\n"),
    ]);
    for (let cut = 0; cut <= body.length; cut++) {
      const c = new MessageCounter("grpc-web");
      c.push(body.subarray(0, cut));
      c.push(body.subarray(cut));
      assert.equal(c.messageBytes, 8, `cut at ${cut}`);
      assert.equal(c.keptText(), "grpc-status: 0\r\n");
    }
  });
});

describe("server telemetry: gRFC A66 metrics and a SERVER span per call, every protocol", () => {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const { provider: meterProvider, reader } = testMeter();
  // As an application does: the global W3C propagator and context manager.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  let server: ConnectServer;
  let base = "";

  before(async () => {
    server = await startConnectServer({
      host: "127.0.0.1",
      port: 0,
      logger: createJsonLogger({ write: () => {} }),
      services: [RngService],
      routes: (router) =>
        router.service(RngService, {
          generate(req) {
            if (req.delayMs === 7) throw new ConnectError("seven", Code.FailedPrecondition);
            return { rn: 1n, instance: "x".repeat(100) };
          },
          async *generateStream(req) {
            for (let i = 0; i < req.count; i++) yield { rn: 1n, instance: "y", sequence: i };
            if (req.intervalMs === 7) throw new ConnectError("stream fault", Code.Unavailable);
          },
        }),
      telemetry: new ServerTelemetry({ meterProvider, tracerProvider }),
    });
    base = `http://127.0.0.1:${server.address.port}`;
  });
  after(async () => {
    await server.drain();
    await tracerProvider.shutdown();
  });

  const transports: [string, () => Transport][] = [
    ["grpc", () => createGrpcTransport({ baseUrl: base })],
    ["grpc-web", () => createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" })],
    ["connect", () => createConnectTransport({ baseUrl: base, httpVersion: "2" })],
  ];
  for (const [name, make] of transports) {
    it(`${name}: status, duration and message sizes per call, unary and streaming`, async () => {
      const before = await points(reader, "grpc.server.call.duration");
      const count = (p: Map<string, Histogram>, key: string) => p.get(key)?.count ?? 0;
      const client = createClient(RngService, make());
      await client.generate({ delayMs: 0 });
      await assert.rejects(client.generate({ delayMs: 7 }), { code: Code.FailedPrecondition });
      let n = 0;
      for await (const _ of client.generateStream({ count: 2 })) n++;
      assert.equal(n, 2);
      await assert.rejects(
        async () => {
          for await (const _ of client.generateStream({ count: 1, intervalMs: 7 }));
        },
        { code: Code.Unavailable },
      );
      // A call is recorded when its response has been handed to Node, which
      // may be a moment after the client has read it.
      const keys = ["OK", "FAILED_PRECONDITION"].map((s) => `rng.v1.RngService/Generate ${s}`);
      keys.push(...["OK", "UNAVAILABLE"].map((s) => `rng.v1.RngService/GenerateStream ${s}`));
      let now = await points(reader, "grpc.server.call.duration");
      for (let i = 0; i < 100 && keys.some((k) => count(now, k) === count(before, k)); i++) {
        await new Promise((r) => setTimeout(r, 20));
        now = await points(reader, "grpc.server.call.duration");
      }
      assert.equal(
        count(now, "rng.v1.RngService/Generate OK") - count(before, "rng.v1.RngService/Generate OK"),
        1,
      );
      const fp = "rng.v1.RngService/Generate FAILED_PRECONDITION";
      assert.equal(count(now, fp) - count(before, fp), 1);
      const so = "rng.v1.RngService/GenerateStream OK";
      assert.equal(count(now, so) - count(before, so), 1);
      const su = "rng.v1.RngService/GenerateStream UNAVAILABLE";
      assert.equal(count(now, su) - count(before, su), 1);
    });
  }

  it("sizes are message bytes: the response's 100-character field, no framing", async () => {
    const sent = await points(reader, "grpc.server.call.sent_total_compressed_message_size");
    const ok = sent.get("rng.v1.RngService/Generate OK");
    // rn (2 bytes) + instance (2 + 100 bytes), per protocol's call.
    assert.equal(ok?.sum, 3 * 104);
    const rcvd = await points(reader, "grpc.server.call.rcvd_total_compressed_message_size");
    assert.equal(rcvd.get("rng.v1.RngService/Generate OK")?.sum, 0, "GenerateRequest{} is empty");
  });

  it("continues the client's trace from traceparent; a SERVER span with the status", async () => {
    exporter.reset();
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const client = createClient(RngService, createGrpcTransport({ baseUrl: base }));
    await client.generate({}, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } });
    await assert.rejects(
      client.generate({ delayMs: 7 }, { headers: { traceparent: `00-${traceId}-b7ad6b7169203332-01` } }),
    );
    const spans = exporter.getFinishedSpans().filter((s) => s.name === "rng.v1.RngService/Generate");
    assert.equal(spans.length, 2);
    for (const s of spans) {
      assert.equal(s.kind, SpanKind.SERVER);
      assert.equal(s.spanContext().traceId, traceId);
      assert.equal(s.attributes["rpc.system"], "grpc");
    }
    assert.equal(spans[0]?.parentSpanContext?.spanId, "b7ad6b7169203331");
    assert.equal(spans[1]?.attributes["rpc.grpc.status_code"], Code.FailedPrecondition);
    // OpenTelemetry's server-side rule: FAILED_PRECONDITION is the client's problem, not an error.
    assert.equal(spans[1]?.status.code, SpanStatusCode.UNSET);
  });
});
