import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { closestName } from "../../src/core/did-you-mean.js";
import { describeValue } from "../../src/core/errors.js";
import { resolvePoolOptions } from "../../src/options-resolve.js";
import { validatePoolOptions } from "../../src/options-schema.js";

const target = "dns:///svc:80";

/** The whole message of the InvalidArgument error `options` get, from the pool's own entry point. */
function rejection(options: unknown): string {
  try {
    resolvePoolOptions(options as never);
  } catch (err) {
    assert.ok(err instanceof ConnectError, `not a ConnectError: ${String(err)}`);
    assert.equal(err.code, Code.InvalidArgument);
    return err.rawMessage;
  }
  assert.fail(`accepted ${JSON.stringify(options)}`);
}

describe("options schema: unknown keys", () => {
  it("a misspelt top-level key names its path and the option meant", () => {
    assert.equal(
      rejection({ target, waitforReady: true }),
      "unknown option options.waitforReady: did you mean waitForReady?",
    );
    assert.equal(
      rejection({ target, helthCheck: false }),
      "unknown option options.helthCheck: did you mean healthCheck?",
    );
    assert.equal(
      rejection({ target, interceptor: [] }),
      "unknown option options.interceptor: did you mean interceptors?",
    );
  });

  it("a key with no near miss points to the options' type", () => {
    assert.equal(
      rejection({ target, retries: 3 }),
      "unknown option options.retries (see PoolTransportOptions)",
    );
  });

  it("nested option objects are checked too, and list their keys when nothing is near", () => {
    assert.equal(
      rejection({ target, healthCheck: { intervalMs: 5000 } }),
      "unknown option options.healthCheck.intervalMs: healthCheck takes service, interceptors",
    );
    assert.equal(
      rejection({ target, healthCheck: { Service: "rng" } }),
      "unknown option options.healthCheck.Service: did you mean service?",
    );
    assert.equal(
      rejection({ target, outlierDetection: { failurePercentage: { treshold: 50 } } }),
      "unknown option options.outlierDetection.failurePercentage.treshold: did you mean threshold?",
    );
    assert.equal(
      rejection({ target, outlierDetection: { interval: 1000 } }),
      "unknown option options.outlierDetection.interval: did you mean intervalMs?",
    );
    assert.equal(
      rejection({ target, retryPolicy: { maxAttempts: 3, retryableCodes: [14], jitter: 0.1 } }),
      "unknown option options.retryPolicy.jitter: retryPolicy takes maxAttempts, retryableCodes, initialBackoffMs, maxBackoffMs, backoffMultiplier",
    );
    assert.equal(
      rejection({ target, subset: { size: 2, clientIdx: 1 } }),
      "unknown option options.subset.clientIdx: did you mean clientId?",
    );
    assert.equal(
      rejection({ target, keepalive: { time: 1000 } }),
      "unknown option options.keepalive.time: did you mean timeMs?",
    );
    assert.equal(
      rejection({ target, reconnectBackoff: { initialMS: 10 } }),
      "unknown option options.reconnectBackoff.initialMS: did you mean initialMs?",
    );
    assert.equal(
      rejection({ target, slowStart: { windowMs: 1000, aggresion: 2 } }),
      "unknown option options.slowStart.aggresion: did you mean aggression?",
    );
    assert.equal(
      rejection({ target, peakEwma: { decay: 1 } }),
      "unknown option options.peakEwma.decay: did you mean decayMs?",
    );
    assert.equal(
      rejection({ target, peakEwma: { rtt: 1 } }),
      "unknown option options.peakEwma.rtt: peakEwma takes defaultRttMs, decayMs, failureRttMs",
    );
    assert.equal(
      rejection({ target, weightedRoundRobin: { blackoutPeriod: 1 } }),
      "unknown option options.weightedRoundRobin.blackoutPeriod: did you mean blackoutPeriodMs?",
    );
    assert.equal(
      rejection({ target, telemetry: { disabledMetric: [] } }),
      "unknown option options.telemetry.disabledMetric: did you mean disabledMetrics?",
    );
  });

  it("objects whose keys are Node's or protobuf-es's are not checked by key", () => {
    const o = resolvePoolOptions({
      target,
      tls: { ciphers: "HIGH", ecdhCurve: "auto" } as never,
      http2Options: { settings: { enablePush: false }, maxSessionMemory: 20 },
      jsonOptions: { ignoreUnknownFields: true },
      binaryOptions: { readUnknownFields: false },
      policyConfig: { anything: [1, "two"] },
      kubeConfig: new (class KubeConfig {})(),
    });
    assert.equal(o.protocol, "grpc");
  });

  it("undefined is the default for every key, and nested objects may be partial", () => {
    const o = resolvePoolOptions({
      target,
      tls: undefined,
      waitForReady: undefined,
      healthCheck: { service: undefined, interceptors: undefined },
      outlierDetection: { failurePercentage: false, successRate: undefined },
    });
    assert.equal(o.waitForReady, false);
    assert.deepEqual(o.healthCheck, { service: "", interceptors: undefined });
  });
});

describe("options schema: types", () => {
  it("a wrong type names the key, the type expected and the value given with its type", () => {
    assert.equal(
      rejection({ target, minResolveIntervalMs: "1000" }),
      'options.minResolveIntervalMs must be a number, got "1000" (a string)',
    );
    assert.equal(
      rejection({ target, tls: "yes" }),
      'options.tls must be a boolean or an object (TLS options), got "yes" (a string)',
    );
    assert.equal(
      rejection({ target, waitForReady: "false" }),
      'options.waitForReady must be a boolean, got "false" (a string)',
    );
    assert.equal(
      rejection({ target, healthCheck: true }),
      "options.healthCheck must be false or an object { service, interceptors }, got true (a boolean)",
    );
    assert.equal(
      rejection({ target, healthCheck: { service: 1 } }),
      "options.healthCheck.service must be a string, got 1 (a number)",
    );
    assert.equal(
      rejection({ target, keepalive: [1000] }),
      "options.keepalive must be an object { timeMs, timeoutMs, permitWithoutCalls }, got [1000] (an array)",
    );
    assert.equal(
      rejection({ target, interceptors: [{ intercept: true }] }),
      'options.interceptors[0] must be a function, got {"intercept":true} (an object)',
    );
    assert.equal(
      rejection({ target, interceptors: () => {} }),
      "options.interceptors must be an array of functions, got a function (interceptors)",
    );
    assert.equal(
      rejection({ target, healthCheck: { interceptors: [new Map()] } }),
      "options.healthCheck.interceptors[0] must be a function, got a Map",
    );
    assert.equal(
      rejection({ target, retryPolicy: { maxAttempts: 3, retryableCodes: ["UNAVAILABLE"] } }),
      'options.retryPolicy.retryableCodes[0] must be a status code such as Code.Unavailable (a whole number from 1 to 16), got "UNAVAILABLE" (a string)',
    );
    assert.equal(
      rejection({ target, outlierDetection: { failureCodes: [14, 99] } }),
      "options.outlierDetection.failureCodes[1] must be a status code such as Code.Unavailable (a whole number from 1 to 16), got 99 (a number)",
    );
    assert.equal(
      rejection({ target, subset: { size: 3, kind: "apperture" } }),
      'options.subset.kind must be one of "auto", "aperture", "deterministic", "rendezvous", "random", got "apperture" (a string); did you mean "aperture"?',
    );
    assert.equal(
      rejection({ target, telemetry: { disabledMetrics: "grpc.client.call.duration" } }),
      'options.telemetry.disabledMetrics must be an array of strings, got "grpc.client.call.duration" (a string)',
    );
    assert.equal(
      rejection({ target, sendCompression: "gzip" }),
      'options.sendCompression must be an object (Compression), got "gzip" (a string)',
    );
  });

  it("required keys are named with what they take", () => {
    assert.equal(
      rejection({}),
      'options.target is required: the gRPC target to call, e.g. "dns:///my-service:8080"',
    );
    assert.equal(rejection({ target: 8080 }), "options.target must be a string, got 8080 (a number)");
    assert.equal(
      rejection({ target, retryPolicy: { maxAttempts: 3 } }),
      "options.retryPolicy.retryableCodes is required: the codes to retry, e.g. [Code.Unavailable]",
    );
    assert.equal(
      rejection({ target, subset: { kind: "aperture" } }),
      "options.subset.size is required: endpoints per client, a positive integer",
    );
  });

  it("options that are not an object say how the call looks", () => {
    assert.equal(
      rejection("dns:///svc:80"),
      'createPoolTransport takes an options object with at least a target, got "dns:///svc:80" (a string), e.g. createPoolTransport({ target: "dns:///svc:80" })',
    );
    assert.equal(
      rejection(undefined),
      "createPoolTransport takes an options object with at least a target, got undefined",
    );
  });

  it("range errors after the type check render the value the same way", () => {
    assert.equal(
      rejection({ target, minResolveIntervalMs: Number.NaN }),
      "options.minResolveIntervalMs must be a number >= 1, got NaN (a number)",
    );
    assert.equal(
      rejection({ target, policy: "round-robin" }),
      'options.policy must be one of "round_robin", "pick_first", "least_request", "peak_ewma", "weighted_round_robin", "ring_hash", got "round-robin" (a string); did you mean "round_robin"?',
    );
  });

  it("validatePoolOptions accepts every option of a full, valid set", () => {
    const options = {
      target,
      protocol: "connect",
      policy: "peak_ewma",
      slowStart: { windowMs: 1000, aggression: 1, minWeightPercent: 10 },
      peakEwma: { defaultRttMs: 30, decayMs: 10_000, failureRttMs: 30 },
      weightedRoundRobin: {
        blackoutPeriodMs: 1,
        weightExpirationPeriodMs: 2,
        weightUpdatePeriodMs: 3,
        errorUtilizationPenalty: 1,
      },
      policyConfig: undefined,
      defaultPort: 80,
      authority: "svc:80",
      tls: true,
      connect: "eager",
      minResolveIntervalMs: 1,
      maxResolveIntervalMs: 2,
      dnsTimeoutMs: 3,
      srv: false,
      kubeConfig: {},
      connectTimeoutMs: 4,
      keepalive: { timeMs: 1, timeoutMs: 2, permitWithoutCalls: true },
      reconnectBackoff: { initialMs: 1, maxMs: 2, multiplier: 1.5, jitter: 0 },
      waitForReady: true,
      defaultTimeoutMs: 5,
      fastPath: false,
      transparentRetries: 1,
      retryPolicy: {
        maxAttempts: 2,
        retryableCodes: [Code.Unavailable],
        initialBackoffMs: 1,
        maxBackoffMs: 2,
        backoffMultiplier: 2,
      },
      healthCheck: { service: "rng", interceptors: [(next: unknown) => next] },
      subset: { size: 2, kind: "aperture", clientId: "a", clientIndex: 0, clientCount: 2 },
      outlierDetection: {
        intervalMs: 1,
        baseEjectionTimeMs: 1,
        maxEjectionTimeMs: 1,
        maxEjectionPercent: 1,
        failurePercentage: { threshold: 1, minimumHosts: 1, requestVolume: 1 },
        successRate: false,
        failureCodes: [Code.Internal],
      },
      telemetry: {
        meterProvider: {},
        tracerProvider: {},
        endpointLabel: true,
        targetLabel: "other",
        disabledMetrics: [],
      },
      http2Options: {},
      interceptors: [],
      useBinaryFormat: true,
      jsonOptions: {},
      binaryOptions: {},
      acceptCompression: [],
      sendCompression: { name: "gzip" },
      compressMinBytes: 1,
      readMaxBytes: 1,
      writeMaxBytes: 1,
      useHttpGet: true,
    };
    assert.doesNotThrow(() => validatePoolOptions(options));
  });
});

describe("describeValue and closestName", () => {
  it("renders values as JSON with their type, cut when long", () => {
    assert.equal(describeValue("1000"), '"1000" (a string)');
    assert.equal(describeValue(1000), "1000 (a number)");
    assert.equal(describeValue(null), "null");
    assert.equal(describeValue(10n), "10n (a bigint)");
    assert.equal(describeValue({ a: [1] }), '{"a":[1]} (an object)');
    assert.equal(describeValue(new URL("http://x/")), "a URL");
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.equal(describeValue(cyclic), "{...} (an object)");
    const long = describeValue("x".repeat(500));
    assert.ok(long.length < 100, long);
    assert.match(long, /\.\.\. \(a string\)$/);
  });

  it("suggests a case-insensitive match first, then a near one, never a far one", () => {
    const names = ["waitForReady", "defaultTimeoutMs", "tls"];
    assert.equal(closestName("WAITFORREADY", names), "waitForReady");
    assert.equal(closestName("waitForRaedy", names), "waitForReady", "a swap is one edit");
    assert.equal(closestName("tsl", names), "tls");
    assert.equal(closestName("timeout", names), undefined);
    assert.equal(closestName("ssl", names), undefined, "two edits in a three-letter name is too far");
  });
});
