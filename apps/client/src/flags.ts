import { parseArgs } from "node:util";
import { type PolicyName, type PoolProtocol, parseTarget } from "@rngbalance/dns-pool";

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
  /**
   * Serve Prometheus metrics at http://host:port/metrics (gRPC's client
   * metrics and the pool's, picks labelled per endpoint); undefined: none.
   */
  readonly metricsAddr: string | undefined;
  /** After the last call, keep serving /metrics this long, so a scraper sees the final counts. */
  readonly metricsLingerMs: number;
}

/** The defaults, as `--help` shows them. */
export const DEFAULTS = {
  target: "dns:///rng-headless:8081",
  policy: "round_robin",
  protocol: "grpc",
  connect: "eager",
  interval: "1s",
  count: 0,
  concurrency: 1,
  timeout: "2s",
} as const;

/** Usage text of `rng-client --help`. */
export const USAGE = `Usage: rng-client [flags]

Calls the legacy Rng service (/rng.Rng/Rng, so grpc-go servers work too)
through a client-side load-balancing pool and prints one line per call: the
number the answering instance returned and that instance's address. Prints a
per-address summary when --count calls are done or on SIGINT/SIGTERM.

Flags:
  --target <target>        what to call                                default ${DEFAULTS.target}
                           dns:///host:port       system resolver, every A/AAAA record
                           dns://ip:port/host:port  ask that DNS server
                           ipv4:a:p,b:p  ipv6:[a]:p  unix:/path   fixed addresses
                           host:port              passthrough: one connection, no balancing
  --policy <name>          round_robin | pick_first | least_request    default ${DEFAULTS.policy}
  --protocol <name>        grpc | grpc-web | connect                   default ${DEFAULTS.protocol}
  --connect <mode>         eager: connect to every address first and  default ${DEFAULTS.connect}
                           wait (at most --timeout) until none is
                           still connecting, so the first calls spread;
                           lazy: connect on the first call (gRPC's way)
  --interval <duration>    pause after each call, per worker           default ${DEFAULTS.interval}
  --count <n>              stop after n calls (0 = until interrupted)  default ${DEFAULTS.count}
  --concurrency <n>        calls in flight at once (1-1000)            default ${DEFAULTS.concurrency}
  --timeout <duration>     deadline of each call (> 0)                 default ${DEFAULTS.timeout}
  --subset-size <n>        connect to at most n of the endpoints,      default off (all)
                           chosen per client (see dns-pool's docs/subsetting.md)
  --client-index <i>       this client's index among --client-count    default none
  --client-count <n>       clients: with --client-index, exact balance default none
  --metrics-addr <host:port>  serve Prometheus metrics at /metrics     default off
                           (env RNG_CLIENT_METRICS_ADDR; e.g. 0.0.0.0:9464, :9464)
  --metrics-linger <duration>  after the last call, keep serving      default 0
                           /metrics this long (a second signal ends it)
  --json                   one JSON object per call, summary as JSON   default off
  -v, --verbose            also print pool events to stderr: DNS       default off
                           changes, connection states, retries
  -h, --help               print this help

Durations: 500ms, 1s, 1.5s, 2m, 1h, 1m30s (0 for no interval).
OpenTelemetry: OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER /
OTEL_METRICS_EXPORTER=otlp) exports traces and metrics over OTLP/HTTP;
OTEL_SERVICE_NAME (default rng-client), OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED.
Go-style single-dash flags (-target x) are accepted too.

Exit status: 0 when every call succeeded, 1 when any call failed,
2 for a bad flag, 130 after a second SIGINT (exit at once).`;

/** A bad flag or value; the message names the flag. */
export class FlagError extends Error {
  override readonly name = "FlagError";
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parses a Go-style duration ("500ms", "1s", "1.5s", "2m", "1m30s", "0")
 * into milliseconds; `undefined` when malformed or negative.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === "0") return 0;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * (UNITS[m[2]!] as number);
  }
  return total;
}

/**
 * Parses `rng-client` flags.
 * @throws FlagError naming the flag and what is wrong.
 */
export function parseFlags(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { help: true } | { help: false; config: ClientConfig } {
  // Go's flag package takes -name; node's parseArgs wants --name.
  // `pnpm start -- --count 3` passes the "--" on.
  const args = (argv[0] === "--" ? argv.slice(1) : argv).map((a) =>
    /^-[a-z][a-z-]+(=.*)?$/.test(a) ? `-${a}` : a,
  );
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        target: { type: "string" },
        policy: { type: "string" },
        protocol: { type: "string" },
        connect: { type: "string" },
        interval: { type: "string" },
        count: { type: "string" },
        concurrency: { type: "string" },
        timeout: { type: "string" },
        json: { type: "boolean" },
        "subset-size": { type: "string" },
        "client-index": { type: "string" },
        "client-count": { type: "string" },
        "metrics-addr": { type: "string" },
        "metrics-linger": { type: "string" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    throw new FlagError(describeParseError(err as Error & { code?: string }));
  }
  if (values.help) return { help: true };
  const str = (flag: string): string | undefined => values[flag] as string | undefined;

  const target = str("target") ?? DEFAULTS.target;
  try {
    parseTarget(target);
  } catch (err) {
    throw new FlagError(`--target: ${(err as { rawMessage?: string }).rawMessage ?? (err as Error).message}`);
  }
  const oneOf = <T extends string>(flag: string, allowed: readonly T[], fallback: T): T => {
    const v = str(flag) ?? fallback;
    if (!allowed.includes(v as T)) {
      throw new FlagError(`--${flag} must be ${allowed.join(", ")}; got "${v}"`);
    }
    return v as T;
  };
  const duration = (flag: string, fallback: string, positive: boolean): number => {
    const v = str(flag) ?? fallback;
    const ms = parseDuration(v);
    if (ms === undefined) {
      throw new FlagError(`--${flag} must be a duration such as 500ms, 1s or 2m; got "${v}"`);
    }
    if (positive && ms <= 0) throw new FlagError(`--${flag} must be more than 0; got "${v}"`);
    return ms;
  };
  const int = (flag: string, fallback: number, min: number, max: number): number => {
    const v = str(flag);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
      throw new FlagError(`--${flag} must be a whole number from ${min} to ${max}; got "${v}"`);
    }
    return n;
  };
  const count = int("count", DEFAULTS.count, 0, Number.MAX_SAFE_INTEGER);
  const optionalInt = (flag: string, min: number) =>
    str(flag) === undefined ? undefined : int(flag, 0, min, Number.MAX_SAFE_INTEGER);
  const clientIndex = optionalInt("client-index", 0);
  const clientCount = optionalInt("client-count", 1);
  if ((clientIndex === undefined) !== (clientCount === undefined)) {
    throw new FlagError("--client-index and --client-count go together");
  }
  if (clientIndex !== undefined && clientCount !== undefined && clientIndex >= clientCount) {
    throw new FlagError(`--client-index must be below --client-count (${clientCount}); got ${clientIndex}`);
  }
  const metricsAddr = str("metrics-addr") ?? (env.RNG_CLIENT_METRICS_ADDR?.trim() || undefined);
  if (metricsAddr !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/.test(metricsAddr)) {
    const source = str("metrics-addr") === undefined ? "RNG_CLIENT_METRICS_ADDR" : "--metrics-addr";
    throw new FlagError(`${source} must be host:port (e.g. 0.0.0.0:9464, :9464); got "${metricsAddr}"`);
  }
  return {
    help: false,
    config: {
      target,
      policy: oneOf("policy", ["round_robin", "pick_first", "least_request"], DEFAULTS.policy),
      protocol: oneOf("protocol", ["grpc", "grpc-web", "connect"], DEFAULTS.protocol),
      connect: oneOf("connect", ["eager", "lazy"], DEFAULTS.connect),
      intervalMs: duration("interval", DEFAULTS.interval, false),
      count: count === 0 ? undefined : count,
      concurrency: int("concurrency", DEFAULTS.concurrency, 1, 1000),
      timeoutMs: duration("timeout", DEFAULTS.timeout, true),
      json: values.json === true,
      verbose: values.verbose === true,
      subsetSize: optionalInt("subset-size", 1),
      clientIndex,
      clientCount,
      metricsAddr,
      metricsLingerMs: duration("metrics-linger", "0", false),
    },
  };
}

/** node's parseArgs messages, shortened to name the flag. */
function describeParseError(err: Error & { code?: string }): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag ?? err.message}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const arg = /'([^']*)'/.exec(err.message)?.[1];
      return `unexpected argument "${arg ?? "?"}": every value follows its flag, as in --count 10`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (flag && /argument missing/.test(err.message)) return `${flag} needs a value`;
      if (flag && /does not take an argument/.test(err.message)) return `${flag} takes no value`;
      if (flag && /ambiguous/.test(err.message)) {
        return `${flag} needs a value (for one that starts with "-", write ${flag}=<value>)`;
      }
      return err.message;
    default:
      return err.message;
  }
}
