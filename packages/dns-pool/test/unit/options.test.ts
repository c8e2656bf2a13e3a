import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { resolvePoolOptions } from "../../src/options-resolve.js";

const target = "dns:///svc:80";

function invalid(options: object, pattern: RegExp) {
  assert.throws(
    () => resolvePoolOptions({ target, ...options }),
    (e: unknown) =>
      e instanceof ConnectError && e.code === Code.InvalidArgument && pattern.test(e.rawMessage),
  );
}

describe("resolvePoolOptions", () => {
  it("fills in every default", () => {
    const o = resolvePoolOptions({ target });
    assert.equal(o.protocol, "grpc");
    assert.equal(o.policy, "round_robin");
    assert.equal(o.connect, "lazy");
    assert.equal(o.minResolveIntervalMs, 1000);
    assert.equal(o.maxResolveIntervalMs, 30_000);
    assert.equal(o.dnsTimeoutMs, 5000);
    assert.equal(o.srv, false);
    assert.equal(o.connectTimeoutMs, 20_000);
    assert.deepEqual(o.keepalive, { timeMs: undefined, timeoutMs: 20_000, permitWithoutCalls: false });
    assert.deepEqual(o.reconnectBackoff, { initialMs: 1000, maxMs: 30_000, multiplier: 1.6, jitter: 0.2 });
    assert.equal(o.waitForReady, false);
    assert.equal(o.defaultTimeoutMs, undefined);
    assert.equal(o.fastPath, true);
    assert.equal(o.transparentRetries, 3);
    assert.equal(o.retryPolicy, undefined);
    assert.deepEqual(o.healthCheck, { service: "", interceptors: undefined });
    assert.ok(o.outlierDetection);
    assert.equal(o.outlierDetection.intervalMs, 2000);
    assert.equal(o.outlierDetection.maxEjectionPercent, 10);
    assert.deepEqual(o.outlierDetection.failurePercentage, {
      threshold: 85,
      minimumHosts: 3,
      requestVolume: 20,
      enforcementPercentage: 100,
    });
    assert.deepEqual(o.outlierDetection.successRate, {
      stdevFactor: 1.9,
      minimumHosts: 5,
      requestVolume: 100,
      enforcementPercentage: 100,
    });
  });

  it("fills in the retry policy's defaults, and turns parts off with false", () => {
    const o = resolvePoolOptions({
      target,
      retryPolicy: { maxAttempts: 3, retryableCodes: [Code.Unavailable] },
      healthCheck: false,
      outlierDetection: false,
    });
    assert.deepEqual(o.retryPolicy, {
      maxAttempts: 3,
      retryableCodes: [Code.Unavailable],
      initialBackoffMs: 100,
      maxBackoffMs: 1000,
      backoffMultiplier: 2,
    });
    assert.equal(o.healthCheck, false);
    assert.equal(o.outlierDetection, false);
  });

  it("rejects bad values with InvalidArgument naming the option", () => {
    invalid(
      { protocol: "http" },
      /options.protocol must be one of "grpc", "grpc-web", "connect", got "http"/,
    );
    invalid(
      { policy: "random" },
      /options.policy must be one of "round_robin", "pick_first", "least_request"/,
    );
    invalid({ connect: "soon" }, /options.connect/);
    invalid({ defaultPort: 0 }, /defaultPort must be a port number from 1 to 65535/);
    invalid({ minResolveIntervalMs: 0 }, /minResolveIntervalMs must be a number >= 1/);
    invalid(
      { minResolveIntervalMs: 5000, maxResolveIntervalMs: 1000 },
      /must not be below options.minResolveIntervalMs/,
    );
    invalid({ reconnectBackoff: { jitter: 2 } }, /jitter must be from 0 to 1/);
    invalid({ transparentRetries: 11 }, /transparentRetries must be a whole number from 0 to 10/);
    invalid({ retryPolicy: { maxAttempts: 9, retryableCodes: [] } }, /retryPolicy.maxAttempts/);
    invalid({ keepalive: { timeMs: Number.NaN } }, /keepalive.timeMs/);
    invalid({ outlierDetection: { intervalMs: -1 } }, /outlierDetection.intervalMs must be a number > 0/);
    invalid({ outlierDetection: { maxEjectionPercent: 101 } }, /maxEjectionPercent/);
    invalid(
      {
        outlierDetection: {
          successRate: { stdevFactor: 1.9, minimumHosts: 5, requestVolume: 100, enforcementPercentage: 150 },
        },
      },
      /options\.outlierDetection\.successRate\.enforcementPercentage must be a whole number from 0 to 100, got 150 \(a number\)/,
    );
  });
});

describe("resolvePoolOptions: balancing policies' options", () => {
  it("defaults: slow start off, Linkerd's peak EWMA, A58's weighted round robin", () => {
    const o = resolvePoolOptions({ target, policy: "peak_ewma" });
    assert.equal(o.policy, "peak_ewma");
    assert.equal(o.policyOptions.slowStart, undefined);
    assert.deepEqual(o.policyOptions.peakEwma, { defaultRttMs: 30, decayMs: 10_000, failureRttMs: 30 });
    assert.deepEqual(o.policyOptions.weightedRoundRobin, {
      blackoutPeriodMs: 10_000,
      weightExpirationPeriodMs: 180_000,
      weightUpdatePeriodMs: 1000,
      errorUtilizationPenalty: 1,
    });
    assert.equal(
      resolvePoolOptions({ target, policy: "weighted_round_robin" }).policy,
      "weighted_round_robin",
    );
  });

  it("fills in slow start's aggression and floor; failureRttMs follows defaultRttMs; update period at least 100 ms", () => {
    const o = resolvePoolOptions({
      target,
      slowStart: { windowMs: 30_000 },
      peakEwma: { defaultRttMs: 5 },
      weightedRoundRobin: { weightUpdatePeriodMs: 10 },
      policyConfig: { mine: 1 },
    });
    assert.deepEqual(o.policyOptions.slowStart, { windowMs: 30_000, aggression: 1, minWeightPercent: 10 });
    assert.equal(o.policyOptions.peakEwma.failureRttMs, 5);
    assert.equal(o.policyOptions.weightedRoundRobin.weightUpdatePeriodMs, 100);
    assert.deepEqual(o.policyOptions.config, { mine: 1 });
    assert.equal(resolvePoolOptions({ target, slowStart: false }).policyOptions.slowStart, undefined);
  });

  it("rejects bad values with InvalidArgument naming the option", () => {
    invalid({ slowStart: {} }, /options\.slowStart\.windowMs is required: the ramp.s length in ms/);
    invalid({ slowStart: { windowMs: 0 } }, /slowStart\.windowMs must be a number > 0/);
    invalid({ slowStart: { windowMs: 1000, aggression: 0 } }, /slowStart\.aggression must be a number > 0/);
    invalid({ slowStart: { windowMs: 1000, minWeightPercent: 101 } }, /minWeightPercent must be .*<= 100/);
    invalid(
      { peakEwma: { decayMs: -1 } },
      /peakEwma\.decayMs must be a number > 0 and <= 1000000000, got -1/,
    );
    invalid({ peakEwma: { defaultRttMs: Number.NaN } }, /peakEwma\.defaultRttMs/);
    invalid(
      { weightedRoundRobin: { errorUtilizationPenalty: -1 } },
      /errorUtilizationPenalty must be a number >= 0/,
    );
    invalid(
      { weightedRoundRobin: { weightExpirationPeriodMs: 0 } },
      /weightExpirationPeriodMs must be a number > 0/,
    );
    invalid({ policy: "peak_ewmaa" }, /options.policy must be one of .*"peak_ewma"/);
  });
});

describe("resolvePoolOptions: pick_first and the panic threshold", () => {
  it("defaults: resolver order, a 250 ms Happy Eyeballs stagger, panic below 50 % healthy", () => {
    const o = resolvePoolOptions({ target });
    assert.deepEqual(o.policyOptions.pickFirst, { shuffleAddressList: false, connectionAttemptDelayMs: 250 });
    assert.equal(o.panicThresholdPercent, 50);
    const set = resolvePoolOptions({
      target,
      pickFirst: { shuffleAddressList: true, connectionAttemptDelayMs: 0 },
      panicThresholdPercent: 0,
    });
    assert.deepEqual(set.policyOptions.pickFirst, { shuffleAddressList: true, connectionAttemptDelayMs: 0 });
    assert.equal(set.panicThresholdPercent, 0);
  });

  it("rejects bad values with InvalidArgument naming the option", () => {
    invalid(
      { panicThresholdPercent: 150 },
      /options\.panicThresholdPercent must be a whole number from 0 to 100, got 150/,
    );
    invalid({ panicThresholdPercent: 12.5 }, /options\.panicThresholdPercent must be a whole number/);
    invalid(
      { pickFirst: { connectionAttemptDelayMs: -250 } },
      /options\.pickFirst\.connectionAttemptDelayMs must be a number of ms from 0 \(no stagger\) to 60000, got -250/,
    );
    invalid(
      { pickFirst: { shuffle: true } },
      /unknown option options\.pickFirst\.shuffle: pickFirst takes shuffleAddressList, connectionAttemptDelayMs/,
    );
    invalid(
      { pickFirst: { shuffleAddressList: "yes" } },
      /options\.pickFirst\.shuffleAddressList must be a boolean/,
    );
  });
});
