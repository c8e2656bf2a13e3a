import {
  FlagError,
  type FlagSpec,
  formatDuration,
  parseFlags as parseCommandLine,
  parseDuration,
  renderFlagTable,
} from "@rngbalance/cli";
import {
  type PeakEwmaOptions,
  type PolicyName,
  type PoolProtocol,
  parseTarget,
  type SlowStartOptions,
  type WeightedRoundRobinOptions,
} from "@rngbalance/dns-pool";

/** What the command line asks for, every default filled in. */
export interface ClientConfig {
  /** gRPC target, e.g. `dns:///rng-headless:8081`. */
  readonly target: string;
  readonly policy: PolicyName;
  readonly protocol: PoolProtocol;
  /**
   * "eager": connect at start and wait (at most `timeoutMs`) until no
   * address is still connecting, so the first calls already spread;
   * "lazy": connect on the first call, as gRPC does by default.
   */
  readonly connect: "eager" | "lazy";
  /** Pause between one call's end and the next call's start, per worker. */
  readonly intervalMs: number;
  /** Calls in all; `undefined` runs until SIGINT/SIGTERM. */
  readonly count: number | undefined;
  /** Calls in flight at once (independent workers). */
  readonly concurrency: number;
  /** Deadline of each call. */
  readonly timeoutMs: number;
  /** One JSON object per call and for the summary, instead of text. */
  readonly json: boolean;
  /** Also print the pool's events (DNS changes, connection states) to stderr. */
  readonly verbose: boolean;
  /** Subsetting: use at most this many endpoints; undefined uses every endpoint. */
  readonly subsetSize: number | undefined;
  /** This client's index among `clientCount` clients (exact subset balance). */
  readonly clientIndex: number | undefined;
  readonly clientCount: number | undefined;
  /** Slow start of joining endpoints; undefined: off. */
  readonly slowStart: Required<SlowStartOptions> | undefined;
  /** peak_ewma's settings. */
  readonly peakEwma: Required<Omit<PeakEwmaOptions, "failureRttMs">>;
  /** weighted_round_robin's blackout (the other A58 settings keep their defaults). */
  readonly weightedRoundRobin: Required<Pick<WeightedRoundRobinOptions, "blackoutPeriodMs">>;
  /**
   * Serve Prometheus metrics at http://host:port/metrics (gRPC's client
   * metrics and the pool's, picks labelled per endpoint); undefined: none.
   */
  readonly metricsAddr: string | undefined;
  /** After the last call, keep serving /metrics this long, so a scraper sees the final counts. */
  readonly metricsLingerMs: number;
  /** Zone-aware routing (the pool's `locality`, zone from RNG_ZONE or the Node of NODE_NAME). */
  readonly locality: boolean;
  /**
   * ring_hash: every call carries this key in the {@link HASH_KEY_HEADER}
   * header, so every call goes to the pod that owns it; undefined: no key
   * (each call lands on a random point of the ring, gRFC A76).
   */
  readonly hashKey: string | undefined;
  /** ring_hash's bounded-load factor (`balanceFactor`); undefined: no bound. */
  readonly balanceFactor: number | undefined;
  /**
   * Hedging (gRFC A6): a second attempt on another pod when the first has
   * not answered after this long; undefined: no hedging.
   */
  readonly hedgeDelayMs: number | undefined;
  /**
   * Adaptive hedging: the delay is this percentile of recent calls'
   * latencies (at least `hedgeDelayMs`); undefined: a fixed delay.
   */
  readonly hedgePercentile: number | undefined;
  /** Connection scaling (gRFC A105): connections per pod at most. */
  readonly maxConnectionsPerEndpoint: number;
}

/** The request header that carries `--hash-key` (ring_hash's `requestHashHeader`). */
export const HASH_KEY_HEADER = "x-rng-hash-key";

/** The flags, from which the parser, the defaults and `--help` all come. */
export const CLIENT_FLAGS = {
  target: {
    type: "string",
    default: "dns:///rng-headless:8081",
    placeholder: "target",
    help: [
      "what to call",
      "  dns:///host:port       system resolver, every A/AAAA record",
      "  dns://ip:port/host:port  ask that DNS server",
      "  ipv4:a:p,b:p  ipv6:[a]:p  unix:/path   fixed addresses",
      "  host:port              passthrough: one connection, no balancing",
    ].join("\n"),
  },
  policy: {
    type: "enum",
    values: ["round_robin", "pick_first", "least_request", "peak_ewma", "weighted_round_robin", "ring_hash"],
    default: "round_robin",
    placeholder: "name",
    help: "round_robin | pick_first | least_request |\npeak_ewma (latency-aware) | weighted_round_robin\n(weights from the servers' ORCA load reports) |\nring_hash (consistent hashing on --hash-key)",
  },
  protocol: {
    type: "enum",
    values: ["grpc", "grpc-web", "connect"],
    default: "grpc",
    placeholder: "name",
    help: "grpc | grpc-web | connect",
  },
  connect: {
    type: "enum",
    values: ["eager", "lazy"],
    default: "eager",
    placeholder: "mode",
    help: [
      "eager: connect to every address first and",
      "wait (at most --timeout) until none is",
      "still connecting, so the first calls spread;",
      "lazy: connect on the first call (gRPC's way)",
    ].join("\n"),
  },
  interval: { type: "duration", default: 1000, help: "pause after each call, per worker" },
  count: { type: "int", default: 0, help: "stop after n calls (0 = until interrupted)" },
  concurrency: { type: "int", default: 1, min: 1, max: 1000, help: "calls in flight at once (1-1000)" },
  timeout: { type: "duration", default: 2000, positive: true, help: "deadline of each call (> 0)" },
  "slow-start": {
    type: "duration",
    default: 0,
    help: "slow start window: a pod that joins later\nramps its share up over this long\n(round_robin, least_request, peak_ewma; 0 = off)",
  },
  "slow-start-aggression": {
    type: "number",
    default: 1,
    min: 0.01,
    max: 100,
    help: "ramp shape: 1 linear, > 1 faster at first",
  },
  "slow-start-min-weight": {
    type: "number",
    default: 10,
    max: 100,
    placeholder: "percent",
    help: "the ramp's floor, in percent of a full share",
  },
  "peak-ewma-default-rtt": {
    type: "duration",
    default: 30,
    positive: true,
    help: "peak_ewma: RTT assumed before a pod answers",
  },
  "peak-ewma-decay": {
    type: "duration",
    default: 10_000,
    positive: true,
    help: "peak_ewma: the estimate's time constant",
  },
  "wrr-blackout": {
    type: "duration",
    default: 10_000,
    help: "weighted_round_robin: reports needed for this\nlong before a pod's weight counts",
  },
  "subset-size": {
    type: "int",
    min: 1,
    help: "connect to at most n of the endpoints,\nchosen per client (see dns-pool's docs/subsetting.md)",
  },
  "client-index": { type: "int", placeholder: "i", help: "this client's index among --client-count" },
  "client-count": { type: "int", min: 1, help: "clients: with --client-index, exact balance" },
  "metrics-addr": {
    type: "string",
    env: "RNG_CLIENT_METRICS_ADDR",
    placeholder: "host:port",
    help: "serve Prometheus metrics at /metrics\n(e.g. 0.0.0.0:9464, :9464)",
    validate: (v) =>
      /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/.test(v) ? undefined : "must be host:port, e.g. 0.0.0.0:9464",
  },
  "metrics-linger": {
    type: "duration",
    default: 0,
    help: "after the last call, keep serving /metrics\nthis long (a signal ends it)",
  },
  locality: {
    type: "boolean",
    env: "RNG_LOCALITY",
    help: "zone-aware routing: prefer pods in this client's\nzone (RNG_ZONE, else NODE_NAME's zone label via\nkubernetes: targets), spill over when it is short",
  },
  "hash-key": {
    type: "string",
    placeholder: "key",
    help: "ring_hash: send every call with this key (header\nx-rng-hash-key): all go to the pod that owns it",
  },
  "balance-factor": {
    type: "number",
    min: 1,
    placeholder: "c",
    help: "ring_hash: bounded loads, no pod above c × the\nmean calls in flight (e.g. 1.25)",
  },
  "hedge-delay": {
    type: "duration",
    default: 0,
    help: "hedging (gRFC A6): a second attempt on another\npod when a call has not answered after this long",
  },
  "hedge-percentile": {
    type: "number",
    min: 50,
    max: 99.9,
    placeholder: "p",
    help: "hedging: wait the p-th percentile of recent calls'\nlatencies instead (at least --hedge-delay), e.g.\n95: the slowest 5 % get a second attempt",
  },
  "max-connections-per-endpoint": {
    type: "int",
    default: 1,
    min: 1,
    max: 100,
    help: "connection scaling (gRFC A105): open another\nconnection to a pod whose connections are at its\nMAX_CONCURRENT_STREAMS, up to this many",
  },
  json: { type: "boolean", help: "one JSON object per call, summary as JSON" },
  verbose: {
    type: "boolean",
    short: "v",
    help: "also print pool events to stderr: DNS\nchanges, connection states, retries",
  },
} as const satisfies Record<string, FlagSpec>;

/** The defaults, as `--help` shows them. */
export const DEFAULTS = {
  target: CLIENT_FLAGS.target.default,
  policy: CLIENT_FLAGS.policy.default,
  protocol: CLIENT_FLAGS.protocol.default,
  connect: CLIENT_FLAGS.connect.default,
  interval: formatDuration(CLIENT_FLAGS.interval.default),
  count: CLIENT_FLAGS.count.default,
  concurrency: CLIENT_FLAGS.concurrency.default,
  timeout: formatDuration(CLIENT_FLAGS.timeout.default),
} as const;

/** Usage text of `rng-client --help`. */
export const USAGE = `Usage: rng-client [flags]

Calls the legacy Rng service (/rng.Rng/Rng, so grpc-go servers work too)
through a client-side load-balancing pool and prints one line per call: the
number the answering instance returned and that instance's address. Prints a
per-address summary when --count calls are done or on SIGINT/SIGTERM.

Flags:
${renderFlagTable(CLIENT_FLAGS, { noDefault: "off" })}

Durations: 500ms, 1s, 1.5s, 2m, 1h, 1m30s (0 for no interval).
OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER /
OTEL_METRICS_EXPORTER=otlp) exports traces and metrics over OTLP/HTTP;
OTEL_SERVICE_NAME (default rng-client), OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED.
Go-style single-dash flags (-target x) are accepted too.
Which policy when: packages/dns-pool/docs/balancing.md.

Exit status: 0 when every call succeeded, 1 when any call failed,
2 for a bad flag, 130 after a second SIGINT (exit at once).`;

export { FlagError, parseDuration };

/**
 * Parses `rng-client` flags.
 * @throws FlagError naming the flag and what is wrong.
 */
export function parseFlags(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { help: true } | { help: false; config: ClientConfig } {
  const parsed = parseCommandLine(CLIENT_FLAGS, argv, env, { goStyle: true });
  if (parsed.help) return { help: true };
  const v = parsed.values;
  try {
    parseTarget(v.target);
  } catch (err) {
    throw new FlagError(`--target: ${(err as { rawMessage?: string }).rawMessage ?? (err as Error).message}`);
  }
  const clientIndex = v["client-index"];
  const clientCount = v["client-count"];
  if ((clientIndex === undefined) !== (clientCount === undefined)) {
    throw new FlagError("--client-index and --client-count go together");
  }
  if (clientIndex !== undefined && clientCount !== undefined && clientIndex >= clientCount) {
    throw new FlagError(`--client-index must be below --client-count (${clientCount}); got ${clientIndex}`);
  }
  const ramped = ["slow-start-aggression", "slow-start-min-weight"] as const;
  if (v.policy !== "ring_hash") {
    for (const f of ["hash-key", "balance-factor"] as const) {
      if (parsed.given.has(f)) throw new FlagError(`--${f} needs --policy ring_hash`);
    }
  }
  if (v["slow-start"] === 0 && ramped.some((f) => parsed.given.has(f))) {
    throw new FlagError("--slow-start-aggression and --slow-start-min-weight need --slow-start <window>");
  }
  return {
    help: false,
    config: {
      target: v.target,
      policy: v.policy,
      protocol: v.protocol,
      connect: v.connect,
      intervalMs: v.interval,
      count: v.count === 0 ? undefined : v.count,
      concurrency: v.concurrency,
      timeoutMs: v.timeout,
      json: v.json,
      verbose: v.verbose,
      subsetSize: v["subset-size"],
      clientIndex,
      clientCount,
      slowStart:
        v["slow-start"] === 0
          ? undefined
          : {
              windowMs: v["slow-start"],
              aggression: v["slow-start-aggression"],
              minWeightPercent: v["slow-start-min-weight"],
            },
      peakEwma: { defaultRttMs: v["peak-ewma-default-rtt"], decayMs: v["peak-ewma-decay"] },
      weightedRoundRobin: { blackoutPeriodMs: v["wrr-blackout"] },
      metricsAddr: v["metrics-addr"],
      metricsLingerMs: v["metrics-linger"],
      locality: v.locality,
      hashKey: v["hash-key"],
      balanceFactor: v["balance-factor"],
      hedgeDelayMs:
        v["hedge-delay"] === 0 && v["hedge-percentile"] === undefined ? undefined : v["hedge-delay"],
      hedgePercentile: v["hedge-percentile"],
      maxConnectionsPerEndpoint: v["max-connections-per-endpoint"],
    },
  };
}
