import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { metrics } from "@opentelemetry/api";
import { nameWithUnit, parseHostPort, readOtelEnv, startTelemetry, unitSuffix } from "../src/index.js";

describe("OpenTelemetry's Prometheus names", () => {
  it("unit suffixes: seconds, bytes, annotations dropped, _total kept last", () => {
    assert.equal(nameWithUnit("grpc.server.call.duration", "s", false), "grpc.server.call.duration_seconds");
    assert.equal(
      nameWithUnit("grpc.client.attempt.sent_total_compressed_message_size", "By", false),
      "grpc.client.attempt.sent_total_compressed_message_size_bytes",
    );
    assert.equal(
      nameWithUnit("grpc.client.attempt.started", "{attempt}", false),
      "grpc.client.attempt.started",
    );
    assert.equal(nameWithUnit("x.duration_seconds", "s", false), "x.duration_seconds", "no double suffix");
    assert.equal(nameWithUnit("x.spent_total", "s", false), "x_spent_seconds_total");
    assert.equal(unitSuffix("1", true), "ratio");
    assert.equal(unitSuffix("By/s", false), "bytes_per_seconds");
  });
});

describe("OTEL_* variables", () => {
  it("nothing set: no export; an endpoint: OTLP for both; none and OTEL_SDK_DISABLED win", () => {
    assert.deepEqual(readOtelEnv({}), {
      otlpMetrics: false,
      traces: "none",
      protocol: { traces: "http/protobuf", metrics: "http/protobuf" },
      warnings: [],
    });
    const on = readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" });
    assert.equal(on.otlpMetrics, true);
    assert.equal(on.traces, "otlp");
    const off = readOtelEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_METRICS_EXPORTER: "none" });
    assert.equal(off.otlpMetrics, false);
    assert.equal(off.traces, "otlp");
    assert.equal(readOtelEnv({ OTEL_TRACES_EXPORTER: "otlp", OTEL_SDK_DISABLED: "true" }).traces, "none");
    assert.equal(readOtelEnv({ OTEL_TRACES_EXPORTER: "console" }).traces, "console");
    assert.equal(
      readOtelEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" }).traces,
      "otlp",
    );
    assert.equal(readOtelEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }).protocol.metrics, "http/json");
    const grpc = readOtelEnv({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_TRACES_EXPORTER: "zipkin" });
    assert.equal(grpc.protocol.traces, "http/protobuf");
    assert.equal(grpc.warnings.length, 3, grpc.warnings.join("; "));
  });

  it("host:port forms", () => {
    assert.deepEqual(parseHostPort("0.0.0.0:9464"), { host: "0.0.0.0", port: 9464 });
    assert.deepEqual(parseHostPort(":9464"), { host: undefined, port: 9464 });
    assert.deepEqual(parseHostPort("[::1]:0"), { host: "::1", port: 0 });
    assert.throws(() => parseHostPort("9464"), /not host:port/);
    assert.throws(() => parseHostPort("a:99999"), /not host:port/);
  });
});

describe("startTelemetry", () => {
  it("serves /metrics with Prometheus names, then shuts down completely", async () => {
    const t = await startTelemetry({ serviceName: "test", metricsAddr: "127.0.0.1:0", env: {} });
    try {
      assert.match(t.metricsAddress ?? "", /^127\.0\.0\.1:\d+$/);
      assert.equal(t.metrics, true);
      assert.equal(t.traces, "none");
      const meter = metrics.getMeter("test");
      meter
        .createHistogram("grpc.server.call.duration", {
          unit: "s",
          advice: { explicitBucketBoundaries: [0, 0.001, 0.0025, 0.01] },
        })
        .record(0.002, { "grpc.method": "a/b" });
      meter.createCounter("grpc.server.call.started", { unit: "{call}" }).add(3, { "grpc.method": "a/b" });
      const res = await fetch(`http://${t.metricsAddress}/metrics`);
      assert.equal(res.status, 200);
      const text = await res.text();
      assert.match(
        text,
        /^grpc_server_call_duration_seconds_bucket\{grpc_method="a\/b",[^}]*le="0\.0025"\} 1$/m,
      );
      assert.match(text, /^grpc_server_call_started_total\{grpc_method="a\/b"[^}]*\} 3$/m);
      assert.match(text, /^target_info\{[^}]*service_name="test"/m);
      assert.equal((await fetch(`http://${t.metricsAddress}/other`)).status, 404);
    } finally {
      await t.shutdown();
      metrics.disable();
    }
    await assert.rejects(fetch(`http://${t.metricsAddress}/metrics`), "closed after shutdown");
  });

  it("global: false returns the MeterProvider and leaves the global one alone", async () => {
    const t = await startTelemetry({
      serviceName: "test",
      metricsAddr: "127.0.0.1:0",
      env: {},
      global: false,
    });
    try {
      assert.ok(t.meterProvider, "a MeterProvider is returned");
      // The global API is still the no-op: what is recorded there is not served.
      metrics.getMeter("global").createCounter("rngbalance.test.global").add(1);
      t.meterProvider.getMeter("mine").createCounter("rngbalance.test.mine").add(2);
      const text = await (await fetch(`http://${t.metricsAddress}/metrics`)).text();
      assert.match(text, /^rngbalance_test_mine_total\{[^}]*\} 2$/m);
      assert.doesNotMatch(text, /rngbalance_test_global/);
    } finally {
      await t.shutdown();
    }
  });

  it("a process that serves /metrics and shuts down exits by itself", async () => {
    const script = fileURLToPath(new URL("./fixtures/serve-and-stop.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const [code, signal] = await once(child, "exit");
    clearTimeout(timer);
    assert.equal(signal, null, `killed: the process did not exit by itself. Output: ${out}`);
    assert.equal(code, 0);
    assert.match(out, /scraped 200/);
  });
});
