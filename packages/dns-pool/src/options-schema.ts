import type { LocalityOptions } from "./balancer/locality.js";
import type { PeakEwmaOptions } from "./balancer/peak-ewma.js";
import type { PickFirstOptions } from "./balancer/pick-first-order.js";
import type { SlowStartOptions } from "./balancer/slow-start.js";
import type { WeightedRoundRobinOptions } from "./balancer/weighted-round-robin.js";
import type { HedgingPolicy } from "./call/hedging.js";
import type { RetryPolicy } from "./call/retry.js";
import type { RetryBudgetOptions, RetryThrottling } from "./call/retry-limits.js";
import type { KeepaliveOptions } from "./connection/http2-connection.js";
import type { LivenessOptions } from "./connection/liveness.js";
import type { BackoffOptions } from "./core/backoff.js";
import { closestName } from "./core/did-you-mean.js";
import { describeValue, invalidArgument } from "./core/errors.js";
import type { HealthCheckOptions } from "./health/health-check.js";
import type { OutlierDetectionOptions } from "./health/outlier-detection.js";
import type { PoolTransportOptions } from "./options.js";
import { SUBSETTER_KINDS } from "./subset/index.js";
import type { SubsetOptions } from "./subset/subset-resolver.js";
import type { PoolTelemetryOptions } from "./telemetry/pool-telemetry-options.js";

/*
 * The shape of the option tree, declared once: which keys each of the
 * pool's own option objects has and what type each value takes. Types
 * only: ranges and cross-field rules stay with the defaults in
 * options-resolve.ts. TypeScript checks the options at compile time; this
 * catches what JavaScript callers (and `as` casts, and config files) get
 * past it: misspelt keys, which would otherwise be ignored in silence, and
 * values of the wrong type, which would otherwise fail later and far away.
 *
 * Objects whose keys are someone else's (TLS options, `http2Options`,
 * protobuf-es's JSON and binary options, a KubeConfig, providers,
 * compressions, `policyConfig`) are checked as objects only, never by key.
 */

/** What one value may be. */
type Spec =
  | { readonly kind: "number" | "boolean" | "string" | "function" | "code" | "any" }
  | { readonly kind: "false" }
  | { readonly kind: "enum"; readonly values: readonly string[] }
  | { readonly kind: "opaque"; readonly what: string }
  | { readonly kind: "object"; readonly name: string; readonly fields: Fields }
  | { readonly kind: "array"; readonly of: Spec }
  | { readonly kind: "union"; readonly of: readonly Spec[] };

/** A key of an option object: its spec, and whether it must be given. */
interface Field {
  readonly spec: Spec;
  readonly required?: string;
}

type Fields = Readonly<Record<string, Field>>;

/** Every key of `T`, no more, no fewer: the schema cannot drift from the interface. */
type FieldsOf<T> = { readonly [K in keyof Required<T>]-?: Field };

const number: Field = { spec: { kind: "number" } };
const boolean: Field = { spec: { kind: "boolean" } };
const string: Field = { spec: { kind: "string" } };
const any: Field = { spec: { kind: "any" } };
const FALSE: Spec = { kind: "false" };
const opaque = (what: string): Spec => ({ kind: "opaque", what });
const arrayOf = (of: Spec): Field => ({ spec: { kind: "array", of } });
const oneOf = (...of: Spec[]): Field => ({ spec: { kind: "union", of } });
const object = <T>(name: string, fields: FieldsOf<T>): Spec => ({ kind: "object", name, fields });
const field = (spec: Spec): Field => ({ spec });
const required = (f: Field, hint: string): Field => ({ ...f, required: hint });

const outlierFields: FieldsOf<OutlierDetectionOptions> = {
  intervalMs: number,
  baseEjectionTimeMs: number,
  maxEjectionTimeMs: number,
  maxEjectionPercent: number,
  failurePercentage: oneOf(
    FALSE,
    object<Exclude<OutlierDetectionOptions["failurePercentage"], false>>("failurePercentage", {
      threshold: number,
      minimumHosts: number,
      requestVolume: number,
      enforcementPercentage: number,
    }),
  ),
  successRate: oneOf(
    FALSE,
    object<Exclude<OutlierDetectionOptions["successRate"], false>>("successRate", {
      stdevFactor: number,
      minimumHosts: number,
      requestVolume: number,
      enforcementPercentage: number,
    }),
  ),
  failureCodes: arrayOf({ kind: "code" }),
};

const poolFields: FieldsOf<PoolTransportOptions> = {
  target: required(string, 'the gRPC target to call, e.g. "dns:///my-service:8080"'),
  protocol: string,
  policy: string,
  slowStart: oneOf(
    FALSE,
    object<SlowStartOptions>("slowStart", {
      windowMs: required(number, "the ramp's length in ms"),
      aggression: number,
      minWeightPercent: number,
    }),
  ),
  peakEwma: field(
    object<PeakEwmaOptions>("peakEwma", { defaultRttMs: number, decayMs: number, failureRttMs: number }),
  ),
  weightedRoundRobin: field(
    object<WeightedRoundRobinOptions>("weightedRoundRobin", {
      blackoutPeriodMs: number,
      weightExpirationPeriodMs: number,
      weightUpdatePeriodMs: number,
      errorUtilizationPenalty: number,
    }),
  ),
  policyConfig: any,
  defaultPort: number,
  authority: string,
  // Node's tls.connect() options: its keys are Node's to define.
  tls: oneOf({ kind: "boolean" }, opaque("TLS options")),
  connect: string,
  minResolveIntervalMs: number,
  maxResolveIntervalMs: number,
  dnsTimeoutMs: number,
  srv: boolean,
  kubeConfig: field(opaque("KubeConfig")),
  connectTimeoutMs: number,
  keepalive: field(
    object<KeepaliveOptions>("keepalive", { timeMs: number, timeoutMs: number, permitWithoutCalls: boolean }),
  ),
  liveness: oneOf(
    FALSE,
    object<LivenessOptions>("liveness", {
      pingAfterMs: number,
      pingTimeoutMs: number,
      suspectAfterMs: number,
    }),
  ),
  reconnectBackoff: field(
    object<BackoffOptions>("reconnectBackoff", {
      initialMs: number,
      maxMs: number,
      multiplier: number,
      jitter: number,
    }),
  ),
  waitForReady: boolean,
  defaultTimeoutMs: number,
  fastPath: boolean,
  transparentRetries: number,
  retryPolicy: field(
    object<RetryPolicy>("retryPolicy", {
      maxAttempts: required(number, "attempts in all, 2 to 5"),
      retryableCodes: required(arrayOf({ kind: "code" }), "the codes to retry, e.g. [Code.Unavailable]"),
      initialBackoffMs: number,
      maxBackoffMs: number,
      backoffMultiplier: number,
    }),
  ),
  healthCheck: oneOf(
    FALSE,
    object<HealthCheckOptions>("healthCheck", {
      service: string,
      interceptors: arrayOf({ kind: "function" }),
    }),
  ),
  subset: field(
    object<SubsetOptions>("subset", {
      size: required(number, "endpoints per client, a positive integer"),
      kind: field({ kind: "enum", values: ["auto", ...SUBSETTER_KINDS] }),
      clientId: string,
      clientIndex: number,
      clientCount: number,
    }),
  ),
  outlierDetection: oneOf(FALSE, object<OutlierDetectionOptions>("outlierDetection", outlierFields)),
  telemetry: oneOf(
    FALSE,
    object<PoolTelemetryOptions>("telemetry", {
      meterProvider: field(opaque("MeterProvider")),
      tracerProvider: field(opaque("TracerProvider")),
      endpointLabel: boolean,
      targetLabel: string,
      disabledMetrics: arrayOf({ kind: "string" }),
    }),
  ),
  // Node's http2.connect() options.
  http2Options: field(opaque("http2.connect() options")),
  pickFirst: field(
    object<PickFirstOptions>("pickFirst", { shuffleAddressList: boolean, connectionAttemptDelayMs: number }),
  ),
  panicThresholdPercent: number,
  interceptors: arrayOf({ kind: "function" }),
  useBinaryFormat: boolean,
  // protobuf-es's options.
  jsonOptions: field(opaque("protobuf JSON options")),
  binaryOptions: field(opaque("protobuf binary options")),
  acceptCompression: arrayOf(opaque("Compression")),
  sendCompression: field(opaque("Compression")),
  compressMinBytes: number,
  readMaxBytes: number,
  writeMaxBytes: number,
  useHttpGet: boolean,
  maxConnectionsPerEndpoint: number,
  minConnectionsPerEndpoint: number,
  extraConnectionIdleMs: number,
  locality: oneOf(
    FALSE,
    object<LocalityOptions>("locality", {
      zone: string,
      nodeName: string,
      minLocalEndpoints: number,
      utilizationThreshold: number,
      reportMaxAgeMs: number,
      zoneShares: field(opaque("zone shares")),
      hints: boolean,
      updatePeriodMs: number,
    }),
  ),
  hedgingPolicy: field(
    object<HedgingPolicy>("hedgingPolicy", {
      maxAttempts: required(number, "attempts in all, 2 to 5"),
      hedgingDelayMs: number,
      hedgingDelayPercentile: number,
      nonFatalCodes: arrayOf({ kind: "code" }),
    }),
  ),
  retryThrottling: field(
    object<RetryThrottling>("retryThrottling", {
      maxTokens: required(number, "the bucket's size, 1 to 1000 (e.g. 10)"),
      tokenRatio: required(number, "tokens a successful call puts back, e.g. 0.1"),
    }),
  ),
  retryBudget: oneOf(
    FALSE,
    object<RetryBudgetOptions>("retryBudget", { ratio: number, minRetriesPerSecond: number, ttlMs: number }),
  ),
};

const POOL_OPTIONS = object<PoolTransportOptions>("createPoolTransport", poolFields);

/**
 * Checks the shape of `createPoolTransport`'s options: every key known
 * (at every level of the pool's own option objects), every value of the
 * right type, required keys present. `undefined` always means "the
 * default". Pure; ranges are checked by `resolvePoolOptions`.
 *
 * @throws ConnectError with Code.InvalidArgument naming the key by its
 *   path (`options.healthCheck.intervalMs`), with a "did you mean" for a
 *   near miss, or the type expected and the value given.
 */
export function validatePoolOptions(options: unknown): asserts options is PoolTransportOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    const hint =
      typeof options === "string" ? `, e.g. createPoolTransport({ target: ${JSON.stringify(options)} })` : "";
    throw invalidArgument(
      `createPoolTransport takes an options object with at least a target, got ${describeValue(options)}${hint}`,
    );
  }
  check(options, POOL_OPTIONS, "options");
}

function check(value: unknown, spec: Spec, path: string): void {
  if (spec.kind === "union") {
    const match = spec.of.find((s) => sameType(s, value));
    if (!match) throw wrongType(path, spec, value);
    check(value, match, path);
    return;
  }
  if (!sameType(spec, value)) throw wrongType(path, spec, value);
  if (spec.kind === "array") {
    (value as unknown[]).forEach((item, i) => {
      check(item, spec.of, `${path}[${i}]`);
    });
  } else if (spec.kind === "object") {
    const record = value as Record<string, unknown>;
    const known = Object.keys(spec.fields);
    for (const key of Object.keys(record)) {
      const f = Object.hasOwn(spec.fields, key) ? spec.fields[key] : undefined;
      if (f === undefined) throw unknownKey(`${path}.${key}`, key, spec, known);
      if (record[key] !== undefined) check(record[key], f.spec, `${path}.${key}`);
    }
    for (const key of known) {
      const hint = spec.fields[key]?.required;
      if (hint !== undefined && record[key] === undefined) {
        throw invalidArgument(`${path}.${key} is required: ${hint}`);
      }
    }
  }
}

/** Whether `value` is of the kind `spec` takes (an object's keys are checked after). */
function sameType(spec: Spec, value: unknown): boolean {
  switch (spec.kind) {
    case "any":
      return true;
    case "number":
      return typeof value === "number";
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "function":
      return typeof value === "function";
    case "false":
      return value === false;
    case "code":
      return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 16;
    case "enum":
      return typeof value === "string" && spec.values.includes(value);
    case "opaque":
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "array":
      return Array.isArray(value);
    case "union":
      return spec.of.some((s) => sameType(s, value));
  }
}

/** "a number", "false or an object (healthCheck options)", ... */
function expected(spec: Spec): string {
  switch (spec.kind) {
    case "any":
      return "anything";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "string":
      return "a string";
    case "function":
      return "a function";
    case "false":
      return "false";
    case "code":
      return "a status code such as Code.Unavailable (a whole number from 1 to 16)";
    case "enum":
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "opaque":
      return `an object (${spec.what})`;
    case "object":
      return `an object { ${Object.keys(spec.fields).join(", ")} }`;
    case "array":
      return `an array of ${plural(spec.of)}`;
    case "union":
      return spec.of.map(expected).join(" or ");
  }
}

/** What an array's items are, in the plural: "functions", "Compression objects". */
function plural(spec: Spec): string {
  switch (spec.kind) {
    case "code":
      return "status codes such as Code.Unavailable (whole numbers from 1 to 16)";
    case "opaque":
      return `${spec.what} objects`;
    case "number":
    case "boolean":
    case "string":
    case "function":
      return `${spec.kind}s`;
    default:
      return expected(spec);
  }
}

function wrongType(path: string, spec: Spec, value: unknown): Error {
  let message = `${path} must be ${expected(spec)}, got ${describeValue(value)}`;
  if (spec.kind === "enum" && typeof value === "string") {
    const near = closestName(value, spec.values);
    if (near !== undefined) message += `; did you mean "${near}"?`;
  }
  return invalidArgument(message);
}

function unknownKey(path: string, key: string, spec: { name: string }, known: readonly string[]): Error {
  const near = closestName(key, known);
  if (near !== undefined) return invalidArgument(`unknown option ${path}: did you mean ${near}?`);
  const list =
    known.length <= 12 ? `: ${spec.name} takes ${known.join(", ")}` : ` (see PoolTransportOptions)`;
  return invalidArgument(`unknown option ${path}${list}`);
}
