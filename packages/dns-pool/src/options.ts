import type * as http2 from "node:http2";
import type * as tls from "node:tls";
import type {
  BinaryReadOptions,
  BinaryWriteOptions,
  JsonReadOptions,
  JsonWriteOptions,
} from "@bufbuild/protobuf";
import { Code, type Interceptor } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import type { BackoffOptions } from "./backoff.js";
import type { PolicyName } from "./balancer/policy.js";
import { invalidArgument } from "./errors.js";
import type { KeepaliveOptions } from "./subchannel.js";
import type { SubsetterKind } from "./subset/index.js";
import type { SubsetterOptions } from "./subset/subsetter.js";

/** The wire protocols a pool can speak; all three run over HTTP/2. */
export type PoolProtocol = "grpc" | "grpc-web" | "connect";

/** TLS settings: Node's `tls.connect()` options that make sense per pool. */
export type PoolTlsOptions = Pick<
  tls.ConnectionOptions,
  | "ca"
  | "cert"
  | "key"
  | "passphrase"
  | "pfx"
  | "servername"
  | "rejectUnauthorized"
  | "checkServerIdentity"
  | "minVersion"
>;

/** Options of {@link createPoolTransport}. Only `target` is required. */
export interface PoolTransportOptions {
  /**
   * What to call, in gRPC's naming syntax:
   * - `dns:///rng-headless:8081`: the system resolver (with /etc/resolv.conf search domains);
   * - `dns://10.96.0.10:53/rng-headless.default.svc.cluster.local:8081`: ask that DNS server;
   * - `ipv4:10.0.0.1:8081,10.0.0.2:8081`, `ipv6:[fd00::1]:8081`: fixed addresses;
   * - `unix:/run/rng.sock`, `unix-abstract:rng`: a Unix domain socket;
   * - `rng-headless:8081`: passthrough, one connection, the OS picks the address (as grpc-go without `dns:///`).
   */
  target: string;
  /** Wire protocol. Default "grpc". */
  protocol?: PoolProtocol;
  /** Balancing policy: "round_robin", "pick_first" or "least_request". Default "round_robin". */
  policy?: PolicyName;
  /**
   * Port for a target that names none. Default: none, so such a target is
   * rejected; grpc-go silently dials 443 instead.
   */
  defaultPort?: number;
  /**
   * `:authority` (and Host) of every call, and the TLS server name. Default:
   * the target's host:port, never a pod IP.
   */
  authority?: string;
  /**
   * TLS: `true` for the system CAs, or options with a custom CA and client
   * certificate (mTLS). SNI is the authority's host name. Default: cleartext
   * HTTP/2 (h2c).
   */
  tls?: boolean | PoolTlsOptions;
  /**
   * "lazy": connect when the first call comes; "eager": connect to every
   * resolved address at once (and to new ones as they appear). Either way,
   * once active the pool keeps connections to new addresses open. Default "lazy".
   */
  connect?: "lazy" | "eager";
  /**
   * Re-resolve no more often than this, whatever the TTL says or however
   * many connections fail. Default 1000.
   */
  minResolveIntervalMs?: number;
  /** Re-resolve at least this often, whatever the TTL says. Default 30000. */
  maxResolveIntervalMs?: number;
  /** Timeout of one DNS query (two tries are made). Default 5000. */
  dnsTimeoutMs?: number;
  /** Resolve `dns:` names through SRV records (ports from the records). Default false. */
  srv?: boolean;
  /**
   * For `kubernetes:` targets: a `KubeConfig` of @kubernetes/client-node (an
   * optional peer dependency). Default: `loadFromDefault()`, which inside a
   * pod uses its service account (RBAC: get, list, watch on
   * discovery.k8s.io endpointslices).
   */
  kubeConfig?: object;
  /** How long one connection attempt may take, TCP + TLS + HTTP/2 settings. Default 20000. */
  connectTimeoutMs?: number;
  /** HTTP/2 keepalive pings. Default: off (`timeMs` undefined), `timeoutMs` 20000, `permitWithoutCalls` false. */
  keepalive?: Partial<KeepaliveOptions>;
  /** Backoff between reconnect attempts. Default 1000 ms initial, x1.6, ±20 % jitter, at most 30000 ms. */
  reconnectBackoff?: Partial<BackoffOptions>;
  /**
   * When no endpoint is READY, wait for one until the call's deadline, even
   * if every endpoint is failing (gRPC's wait-for-ready). With false, a call
   * waits only while endpoints are connecting, and fails at once with
   * UNAVAILABLE when all are in TRANSIENT_FAILURE. Default false.
   */
  waitForReady?: boolean;
  /** Timeout for calls that set none, in milliseconds. Default: none. */
  defaultTimeoutMs?: number;
  /**
   * Run unary gRPC calls on a lean path written directly on node:http2
   * (same results as connect-node's transport, checked by differential
   * tests; less CPU per call). Used only for binary gRPC without
   * interceptors or compression options; streaming calls and the other
   * protocols always use connect-node. Default true.
   */
  fastPath?: boolean;
  /**
   * How many times a unary call that never reached a server (no connection,
   * stream refused, above a GOAWAY's last stream id) is retried on another
   * endpoint, within its deadline. Such retries are always safe. Default 3.
   */
  transparentRetries?: number;
  /**
   * Opt-in retries of unary calls that did reach a server, as gRFC A6: only
   * for the listed codes, with exponential backoff, within the deadline.
   * Only for idempotent methods. Default: none.
   */
  retryPolicy?: RetryPolicy;
  /**
   * Active health checking per endpoint with `grpc.health.v1.Health/Watch`
   * (gRFC A17): an endpoint that reports NOT_SERVING leaves the picker at once
   * and returns on SERVING; a server answering UNIMPLEMENTED is not checked.
   * `false` turns it off. Default `{ service: "" }` (the whole server).
   */
  healthCheck?: false | { service: string };
  /**
   * Connect to at most `size` of the resolved endpoints, chosen
   * deterministically per client so that load stays even across servers and
   * a change of one server changes about one endpoint per client (see
   * docs/subsetting.md). Default: no subsetting (every endpoint).
   */
  subset?: SubsetOptions;
  /**
   * Outlier ejection (gRFC A50): endpoints whose calls fail much more than
   * the others' are taken out of the picker for a while. `false` turns it
   * off. Defaults: see {@link OutlierDetectionOptions}.
   */
  outlierDetection?: false | Partial<OutlierDetectionOptions>;
  /** Extra `http2.connect()` options (settings, maxSessionMemory, ...). */
  http2Options?: Omit<http2.ClientSessionOptions, "createConnection">;
  /** Interceptors, run on every call after the endpoint is picked. */
  interceptors?: Interceptor[];
  /** Binary (default) or JSON; JSON applies to Connect and gRPC-Web. Default true. */
  useBinaryFormat?: boolean;
  /** Protobuf JSON options. */
  jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  /** Protobuf binary options. */
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /** Response compressions accepted. Default gzip and br, as connect-node. */
  acceptCompression?: Compression[];
  /** Request compression. Default none. */
  sendCompression?: Compression;
  /** Do not compress messages smaller than this. Default 1024. */
  compressMinBytes?: number;
  /** Largest response message accepted. Default ~4 GiB, as connect-node. */
  readMaxBytes?: number;
  /** Largest request message sent. Default ~4 GiB, as connect-node. */
  writeMaxBytes?: number;
}

/** Subsetting: each client uses a few endpoints only (see docs/subsetting.md). */
export interface SubsetOptions extends SubsetterOptions {
  /** Endpoints per client. */
  size: number;
  /**
   * The algorithm: "auto" (default) picks "aperture" when `clientIndex` and
   * `clientCount` are given (exact balance), else "rendezvous" (no
   * coordination needed, minimal churn).
   */
  kind?: SubsetterKind | "auto";
}

/** A gRFC A6 retry policy for calls that reached a server. */
export interface RetryPolicy {
  /** Attempts in all, the first included: 2 to 5. */
  maxAttempts: number;
  /** Codes worth another attempt, e.g. [Code.Unavailable]. */
  retryableCodes: Code[];
  /** Delay before the first retry (jittered). Default 100. */
  initialBackoffMs?: number;
  /** Largest delay. Default 1000. */
  maxBackoffMs?: number;
  /** Growth of the delay per retry. Default 2. */
  backoffMultiplier?: number;
}

/**
 * Outlier ejection settings (gRFC A50). An endpoint is ejected for
 * `baseEjectionTimeMs` x (times ejected), at most `maxEjectionTimeMs`.
 */
export interface OutlierDetectionOptions {
  /** How often endpoints are judged. Default 2000. */
  intervalMs: number;
  /** Default 30000. */
  baseEjectionTimeMs: number;
  /** Default 300000. */
  maxEjectionTimeMs: number;
  /** Never eject more than this share of endpoints (one is always allowed). Default 10. */
  maxEjectionPercent: number;
  /** Eject an endpoint whose failure percentage is above `threshold`. `false` disables. */
  failurePercentage:
    | false
    | {
        /** Default 85. */
        threshold: number;
        /** Judge only with at least this many endpoints having enough calls. Default 3. */
        minimumHosts: number;
        /** Calls an endpoint needs in the interval to be judged. Default 20. */
        requestVolume: number;
      };
  /** Eject an endpoint whose success rate is below mean - stdevFactor x stdev. `false` disables. */
  successRate:
    | false
    | {
        /** Default 1.9. */
        stdevFactor: number;
        /** Default 5. */
        minimumHosts: number;
        /** Default 100. */
        requestVolume: number;
      };
  /** The codes that count as a failure. Default UNKNOWN, INTERNAL, UNAVAILABLE, DATA_LOSS, DEADLINE_EXCEEDED. */
  failureCodes: Code[];
}

/** Options with every default filled in. */
export interface ResolvedPoolOptions {
  readonly protocol: PoolProtocol;
  readonly policy: PolicyName;
  readonly connect: "lazy" | "eager";
  readonly minResolveIntervalMs: number;
  readonly maxResolveIntervalMs: number;
  readonly dnsTimeoutMs: number;
  readonly srv: boolean;
  readonly connectTimeoutMs: number;
  readonly keepalive: KeepaliveOptions;
  readonly reconnectBackoff: BackoffOptions;
  readonly waitForReady: boolean;
  readonly defaultTimeoutMs: number | undefined;
  readonly fastPath: boolean;
  readonly transparentRetries: number;
  readonly retryPolicy: Required<RetryPolicy> | undefined;
  readonly healthCheck: false | { service: string };
  readonly outlierDetection: false | OutlierDetectionOptions;
}

const PROTOCOLS: readonly PoolProtocol[] = ["grpc", "grpc-web", "connect"];
const POLICIES: readonly PolicyName[] = ["round_robin", "pick_first", "least_request"];

/**
 * Fills in defaults and checks every value.
 * @throws ConnectError with Code.InvalidArgument naming the option.
 */
export function resolvePoolOptions(o: PoolTransportOptions): ResolvedPoolOptions {
  const ms = (name: string, value: number | undefined, fallback: number | undefined, min = 0) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < min) {
      throw invalidArgument(`option ${name} must be a number >= ${min}, got ${String(value)}`);
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
      throw invalidArgument(
        `option ${name} must be one of ${allowed.map((a) => `"${a}"`).join(", ")}, got "${value}"`,
      );
    }
    return value;
  };
  if (
    o.defaultPort !== undefined &&
    !(Number.isInteger(o.defaultPort) && o.defaultPort > 0 && o.defaultPort < 65536)
  ) {
    throw invalidArgument(`option defaultPort must be a port number from 1 to 65535, got ${o.defaultPort}`);
  }
  const minResolveIntervalMs = ms("minResolveIntervalMs", o.minResolveIntervalMs, 1000, 1) as number;
  const maxResolveIntervalMs = ms("maxResolveIntervalMs", o.maxResolveIntervalMs, 30_000, 1) as number;
  if (maxResolveIntervalMs < minResolveIntervalMs) {
    throw invalidArgument(
      `option maxResolveIntervalMs (${maxResolveIntervalMs}) must not be below minResolveIntervalMs (${minResolveIntervalMs})`,
    );
  }
  const backoff = {
    initialMs: ms("reconnectBackoff.initialMs", o.reconnectBackoff?.initialMs, 1000, 1) as number,
    maxMs: ms("reconnectBackoff.maxMs", o.reconnectBackoff?.maxMs, 30_000, 1) as number,
    multiplier: ms("reconnectBackoff.multiplier", o.reconnectBackoff?.multiplier, 1.6, 1) as number,
    jitter: ms("reconnectBackoff.jitter", o.reconnectBackoff?.jitter, 0.2) as number,
  };
  if (backoff.jitter > 1)
    throw invalidArgument(`option reconnectBackoff.jitter must be from 0 to 1, got ${backoff.jitter}`);
  return {
    protocol: oneOf("protocol", o.protocol, PROTOCOLS, "grpc"),
    policy: oneOf("policy", o.policy, POLICIES, "round_robin"),
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
    reconnectBackoff: backoff,
    waitForReady: o.waitForReady ?? false,
    defaultTimeoutMs: ms("defaultTimeoutMs", o.defaultTimeoutMs, undefined, 1),
    fastPath: o.fastPath ?? true,
    transparentRetries: int("transparentRetries", o.transparentRetries, 3, 0, 10),
    retryPolicy: o.retryPolicy && {
      maxAttempts: int("retryPolicy.maxAttempts", o.retryPolicy.maxAttempts, 2, 2, 5),
      retryableCodes: o.retryPolicy.retryableCodes,
      initialBackoffMs: ms("retryPolicy.initialBackoffMs", o.retryPolicy.initialBackoffMs, 100, 1) as number,
      maxBackoffMs: ms("retryPolicy.maxBackoffMs", o.retryPolicy.maxBackoffMs, 1000, 1) as number,
      backoffMultiplier: ms("retryPolicy.backoffMultiplier", o.retryPolicy.backoffMultiplier, 2, 1) as number,
    },
    healthCheck: o.healthCheck === false ? false : { service: o.healthCheck?.service ?? "" },
    outlierDetection:
      o.outlierDetection === false ? false : resolveOutlierDetection(o.outlierDetection ?? {}),
  };
}

function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `option ${name} must be a whole number from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

function resolveOutlierDetection(o: Partial<OutlierDetectionOptions>): OutlierDetectionOptions {
  const positive = (name: string, value: number | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!(Number.isFinite(value) && value > 0)) {
      throw invalidArgument(`option outlierDetection.${name} must be a number > 0, got ${String(value)}`);
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
          },
    successRate:
      sr === false
        ? false
        : {
            stdevFactor: positive("successRate.stdevFactor", sr?.stdevFactor, 1.9),
            minimumHosts: int("outlierDetection.successRate.minimumHosts", sr?.minimumHosts, 5, 1, 10_000),
            requestVolume: int("outlierDetection.successRate.requestVolume", sr?.requestVolume, 100, 1, 1e9),
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
