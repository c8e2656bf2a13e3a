import { Code } from "@connectrpc/connect";
import type { PolicyName } from "./balancer/builtin.js";
import { type ResolvedLocality, resolveLocality } from "./balancer/locality.js";
import type { PolicyOptions } from "./balancer/policy-context.js";
import { resolvePolicyOptions } from "./balancer/policy-options.js";
import { registeredPolicies } from "./balancer/registry.js";
import type { HedgingPolicy } from "./call/hedging.js";
import { DEFAULT_PANIC_THRESHOLD_PERCENT } from "./call/panic.js";
import type { RetryPolicy } from "./call/retry.js";
import type { RetryBudgetOptions, RetryThrottling } from "./call/retry-limits.js";
import type { ConnectionScaling } from "./connection/connection-scaling.js";
import type { EndpointOptions } from "./connection/endpoint-factory.js";
import { endpointTransportOptions } from "./connection/endpoint-options.js";
import { closestName } from "./core/did-you-mean.js";
import { describeValue, invalidArgument } from "./core/errors.js";
import type { OutlierDetectionOptions } from "./health/outlier-detection.js";
import type { PoolProtocol, PoolTransportOptions } from "./options.js";
import { validatePoolOptions } from "./options-schema.js";
import type { ResolverOptions } from "./resolver/resolver.js";
import type { SubsetOptions } from "./subset/subset-resolver.js";
import type { PoolTelemetryOptions } from "./telemetry/pool-telemetry-options.js";

/**
 * Every option with its default filled in, checked; each field is the
 * option of the same name (see options.ts). It is made of the slices the
 * parts take: {@link EndpointOptions} (the endpoint factory) and
 * {@link ResolverOptions} (the resolver), plus what the pool itself wires.
 */
export interface ResolvedPoolOptions extends EndpointOptions, ResolverOptions {
  /** The target, as given. */
  readonly target: string;
  /** The `authority` option, or undefined for the target's default. */
  readonly authority: string | undefined;
  /** A registered policy name. */
  readonly policy: PolicyName | (string & {});
  /** Slow start and the policies' settings, handed to the policy. */
  readonly policyOptions: PolicyOptions;
  /** "lazy" or "eager". */
  readonly connect: "lazy" | "eager";
  /** Wait for READY through failures. */
  readonly waitForReady: boolean;
  /** Deadline for calls that set none. */
  readonly defaultTimeoutMs: number | undefined;
  /** Retries of calls that never reached a server. */
  readonly transparentRetries: number;
  /** gRFC A6 retries, or undefined. */
  readonly retryPolicy: Required<RetryPolicy> | undefined;
  /** Outlier ejection, or false. */
  readonly outlierDetection: false | OutlierDetectionOptions;
  /** Subsetting, or undefined for none. */
  readonly subset: SubsetOptions | undefined;
  /** Telemetry, or false for none (`{}`: the global providers). */
  readonly telemetry: false | PoolTelemetryOptions;
  /** Panic below this percentage of healthy endpoints; 0: off. */
  readonly panicThresholdPercent: number;
  /** Zone-aware routing, or undefined when off. */
  readonly locality: ResolvedLocality | undefined;
  /** gRFC A6 hedging, or undefined. */
  readonly hedgingPolicy: Required<HedgingPolicy> | undefined;
  /** gRFC A6 retry throttling, or undefined. */
  readonly retryThrottling: RetryThrottling | undefined;
  /** The retry budget, or undefined (off, or no retry or hedging policy). */
  readonly retryBudget: Required<RetryBudgetOptions> | undefined;
}

/** The resolver's slice of the resolved options: exactly {@link ResolverOptions}, nothing else of the pool's. */
export function resolverOptions(o: ResolvedPoolOptions): ResolverOptions {
  return {
    minResolveIntervalMs: o.minResolveIntervalMs,
    maxResolveIntervalMs: o.maxResolveIntervalMs,
    dnsTimeoutMs: o.dnsTimeoutMs,
    srv: o.srv,
    defaultPort: o.defaultPort,
    kubeConfig: o.kubeConfig,
    clientNode: o.locality && o.locality.zone === undefined ? o.locality.nodeName : undefined,
  };
}

const PROTOCOLS: readonly PoolProtocol[] = ["grpc", "grpc-web", "connect"];

/**
 * Fills in defaults and checks every value.
 * @throws ConnectError with Code.InvalidArgument naming the option.
 */
export function resolvePoolOptions(o: PoolTransportOptions): ResolvedPoolOptions {
  validatePoolOptions(o);
  const ms = (name: string, value: number | undefined, fallback: number | undefined, min = 0) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < min) {
      throw invalidArgument(`options.${name} must be a number >= ${min}, got ${describeValue(value)}`);
    }
    return value;
  };
  const oneOf = <T extends string>(
    name: string,
    value: T | undefined,
    allowed: readonly T[],
    fallback: T,
  ): T => {
    if (value === undefined) return fallback;
    if (!allowed.includes(value)) {
      const near = closestName(value, allowed);
      throw invalidArgument(
        `options.${name} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got ${describeValue(value)}${near === undefined ? "" : `; did you mean "${near}"?`}`,
      );
    }
    return value;
  };
  if (
    o.defaultPort !== undefined &&
    !(Number.isInteger(o.defaultPort) && o.defaultPort > 0 && o.defaultPort < 65536)
  ) {
    throw invalidArgument(
      `options.defaultPort must be a port number from 1 to 65535, got ${describeValue(o.defaultPort)}`,
    );
  }
  const minResolveIntervalMs = ms("minResolveIntervalMs", o.minResolveIntervalMs, 1000, 1) as number;
  const maxResolveIntervalMs = ms("maxResolveIntervalMs", o.maxResolveIntervalMs, 30_000, 1) as number;
  if (maxResolveIntervalMs < minResolveIntervalMs) {
    throw invalidArgument(
      `options.maxResolveIntervalMs (${maxResolveIntervalMs}) must not be below options.minResolveIntervalMs (${minResolveIntervalMs})`,
    );
  }
  const backoff = {
    initialMs: ms("reconnectBackoff.initialMs", o.reconnectBackoff?.initialMs, 1000, 1) as number,
    maxMs: ms("reconnectBackoff.maxMs", o.reconnectBackoff?.maxMs, 30_000, 1) as number,
    multiplier: ms("reconnectBackoff.multiplier", o.reconnectBackoff?.multiplier, 1.6, 1) as number,
    jitter: ms("reconnectBackoff.jitter", o.reconnectBackoff?.jitter, 0.2) as number,
  };
  if (backoff.jitter > 1)
    throw invalidArgument(
      `options.reconnectBackoff.jitter must be from 0 to 1, got ${describeValue(backoff.jitter)}`,
    );
  return {
    target: o.target,
    authority: o.authority,
    defaultPort: o.defaultPort,
    kubeConfig: o.kubeConfig,
    tls: o.tls === undefined || o.tls === false ? false : o.tls === true ? {} : o.tls,
    http2Options: o.http2Options,
    endpointTransport: endpointTransportOptions(o),
    subset: o.subset,
    telemetry: o.telemetry ?? {},
    protocol: oneOf("protocol", o.protocol, PROTOCOLS, "grpc"),
    policy: oneOf<string>("policy", o.policy, registeredPolicies(), "round_robin"),
    policyOptions: resolvePolicyOptions(o),
    connect: oneOf("connect", o.connect, ["lazy", "eager"], "lazy"),
    minResolveIntervalMs,
    maxResolveIntervalMs,
    dnsTimeoutMs: ms("dnsTimeoutMs", o.dnsTimeoutMs, 5000, 1) as number,
    srv: o.srv ?? false,
    connectTimeoutMs: ms("connectTimeoutMs", o.connectTimeoutMs, 20_000, 1) as number,
    keepalive: {
      timeMs: ms("keepalive.timeMs", o.keepalive?.timeMs, undefined, 1),
      timeoutMs: ms("keepalive.timeoutMs", o.keepalive?.timeoutMs, 20_000, 1) as number,
      permitWithoutCalls: o.keepalive?.permitWithoutCalls ?? false,
    },
    liveness:
      o.liveness === false
        ? false
        : {
            pingAfterMs: ms("liveness.pingAfterMs", o.liveness?.pingAfterMs, undefined, 1),
            pingTimeoutMs: ms("liveness.pingTimeoutMs", o.liveness?.pingTimeoutMs, 1000, 1) as number,
            suspectAfterMs: ms("liveness.suspectAfterMs", o.liveness?.suspectAfterMs, undefined, 1),
          },
    reconnectBackoff: backoff,
    waitForReady: o.waitForReady ?? false,
    defaultTimeoutMs: ms("defaultTimeoutMs", o.defaultTimeoutMs, undefined, 1),
    fastPath: o.fastPath ?? true,
    connectionScaling: resolveConnectionScaling(
      o,
      ms("extraConnectionIdleMs", o.extraConnectionIdleMs, 30_000, 1) as number,
    ),
    transparentRetries: int("transparentRetries", o.transparentRetries, 3, 0, 10),
    panicThresholdPercent: int(
      "panicThresholdPercent",
      o.panicThresholdPercent,
      DEFAULT_PANIC_THRESHOLD_PERCENT,
      0,
      100,
    ),
    retryPolicy: o.retryPolicy && {
      maxAttempts: int("retryPolicy.maxAttempts", o.retryPolicy.maxAttempts, 2, 2, 5),
      retryableCodes: o.retryPolicy.retryableCodes,
      initialBackoffMs: ms("retryPolicy.initialBackoffMs", o.retryPolicy.initialBackoffMs, 100, 1) as number,
      maxBackoffMs: ms("retryPolicy.maxBackoffMs", o.retryPolicy.maxBackoffMs, 1000, 1) as number,
      backoffMultiplier: ms("retryPolicy.backoffMultiplier", o.retryPolicy.backoffMultiplier, 2, 1) as number,
    },
    healthCheck:
      o.healthCheck === false
        ? false
        : { service: o.healthCheck?.service ?? "", interceptors: o.healthCheck?.interceptors },
    outlierDetection:
      o.outlierDetection === false ? false : resolveOutlierDetection(o.outlierDetection ?? {}),
    locality: o.locality ? resolveLocality(o.locality) : undefined,
    ...resolveExtraAttempts(o),
  };
}

/** `maxConnectionsPerEndpoint` and its companions (gRFC A105), checked together. */
function resolveConnectionScaling(o: PoolTransportOptions, idleMs: number): ConnectionScaling {
  const min = int("minConnectionsPerEndpoint", o.minConnectionsPerEndpoint, 1, 1, 100);
  const max = int("maxConnectionsPerEndpoint", o.maxConnectionsPerEndpoint, min, 1, 100);
  if (min > max) {
    throw invalidArgument(
      `options.minConnectionsPerEndpoint (${min}) must not exceed options.maxConnectionsPerEndpoint (${max}); raise maxConnectionsPerEndpoint or leave it unset`,
    );
  }
  return { max, min, idleMs };
}

/** hedgingPolicy, retryThrottling and retryBudget, checked (see docs/hedging.md). */
function resolveExtraAttempts(
  o: PoolTransportOptions,
): Pick<ResolvedPoolOptions, "hedgingPolicy" | "retryThrottling" | "retryBudget"> {
  const h = o.hedgingPolicy;
  if (h && o.retryPolicy) {
    throw invalidArgument(
      "options.retryPolicy and options.hedgingPolicy are exclusive (gRFC A6): a call either retries after a failure or hedges; remove one of them",
    );
  }
  const num = (name: string, value: number | undefined, fallback: number, min: number, max: number) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < min || value > max) {
      throw invalidArgument(
        `options.${name} must be a number from ${min} to ${max}, got ${describeValue(value)}`,
      );
    }
    return value;
  };
  const hedgingPolicy = h && {
    maxAttempts: int("hedgingPolicy.maxAttempts", h.maxAttempts, 2, 2, 5),
    hedgingDelayMs: num("hedgingPolicy.hedgingDelayMs", h.hedgingDelayMs, 0, 0, 3_600_000),
    // 0 is off; otherwise a percentile worth hedging at (below the median would hedge most calls).
    hedgingDelayPercentile:
      h.hedgingDelayPercentile === 0
        ? 0
        : num("hedgingPolicy.hedgingDelayPercentile", h.hedgingDelayPercentile, 0, 50, 99.9),
    nonFatalCodes: h.nonFatalCodes ?? [],
  };
  const t = o.retryThrottling;
  const retryThrottling = t && {
    maxTokens: num("retryThrottling.maxTokens", t.maxTokens, 10, 1, 1000),
    tokenRatio: num("retryThrottling.tokenRatio", t.tokenRatio, 0.1, 0.001, 1000),
  };
  const b = o.retryBudget;
  const budget =
    b === false
      ? undefined
      : {
          ratio: num("retryBudget.ratio", b?.ratio, 0.2, 0, 10),
          minRetriesPerSecond: num("retryBudget.minRetriesPerSecond", b?.minRetriesPerSecond, 10, 0, 1e6),
          ttlMs: num("retryBudget.ttlMs", b?.ttlMs, 10_000, 1000, 60_000),
        };
  // Without a retry or hedging policy there is nothing to budget (transparent retries never are).
  const retryBudget = o.retryPolicy || h ? budget : undefined;
  return { hedgingPolicy, retryThrottling, retryBudget };
}

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `options.${name} must be a whole number from ${min} to ${max}, got ${describeValue(value)}`,
    );
  }
  return value;
}

function resolveOutlierDetection(o: Partial<OutlierDetectionOptions>): OutlierDetectionOptions {
  const positive = (name: string, value: number | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!(Number.isFinite(value) && value > 0)) {
      throw invalidArgument(
        `options.outlierDetection.${name} must be a number > 0, got ${describeValue(value)}`,
      );
    }
    return value;
  };
  const fp = o.failurePercentage;
  const sr = o.successRate;
  const percent = int("outlierDetection.maxEjectionPercent", o.maxEjectionPercent, 10, 0, 100);
  return {
    intervalMs: positive("intervalMs", o.intervalMs, 2000),
    baseEjectionTimeMs: positive("baseEjectionTimeMs", o.baseEjectionTimeMs, 30_000),
    maxEjectionTimeMs: positive("maxEjectionTimeMs", o.maxEjectionTimeMs, 300_000),
    maxEjectionPercent: percent,
    failurePercentage:
      fp === false
        ? false
        : {
            threshold: int("outlierDetection.failurePercentage.threshold", fp?.threshold, 85, 0, 100),
            minimumHosts: int(
              "outlierDetection.failurePercentage.minimumHosts",
              fp?.minimumHosts,
              3,
              1,
              10_000,
            ),
            requestVolume: int(
              "outlierDetection.failurePercentage.requestVolume",
              fp?.requestVolume,
              20,
              1,
              1e9,
            ),
            enforcementPercentage: int(
              "outlierDetection.failurePercentage.enforcementPercentage",
              fp?.enforcementPercentage,
              100,
              0,
              100,
            ),
          },
    successRate:
      sr === false
        ? false
        : {
            stdevFactor: positive("successRate.stdevFactor", sr?.stdevFactor, 1.9),
            minimumHosts: int("outlierDetection.successRate.minimumHosts", sr?.minimumHosts, 5, 1, 10_000),
            requestVolume: int("outlierDetection.successRate.requestVolume", sr?.requestVolume, 100, 1, 1e9),
            enforcementPercentage: int(
              "outlierDetection.successRate.enforcementPercentage",
              sr?.enforcementPercentage,
              100,
              0,
              100,
            ),
          },
    failureCodes: o.failureCodes ?? [
      Code.Unknown,
      Code.Internal,
      Code.Unavailable,
      Code.DataLoss,
      Code.DeadlineExceeded,
    ],
  };
}
