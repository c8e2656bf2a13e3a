import { availableParallelism, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeBinaryHeader, type Interceptor } from "@connectrpc/connect";
import { type OrcaLoadReport, OrcaLoadReportSchema } from "@rngbalance/grpc-protos/xds/data/orca/v3";
import { trailerHookInterceptor, type UnaryTrailerHook } from "./fast/trailer-hook.js";

/** The trailer of per-call ORCA reports (gRFC A51). */
export const ORCA_TRAILER = "endpoint-load-metrics-bin";

/**
 * The request header that asks for a report in "on-request" mode. gRPC
 * itself has no such negotiation (gRFC A51 chose to avoid one: a gRPC
 * server with per-call metrics on sends them with every call, and grpc-js's
 * weighted_round_robin sends no header). This is the header Envoy-style
 * HTTP ORCA clients send; @rngbalance/dns-pool's weighted_round_robin sends
 * it too. Any value asks for the binary report.
 */
export const ORCA_REQUEST_HEADER = "endpoint-load-metrics-format";

/**
 * When a server attaches its load report to responses:
 * - "off": never (no timer, no interceptor, nothing per call);
 * - "always": to every response, as a gRPC server with per-call metric
 *   recording does (what grpc-js and grpc-go clients expect);
 * - "on-request": only to calls that carry {@link ORCA_REQUEST_HEADER}.
 */
export type OrcaMode = "off" | "on-request" | "always";

/** Options of {@link OrcaReporter}. */
export interface OrcaReporterOptions {
  /** How often utilization and rates are sampled, in ms. Default 1000. */
  intervalMs?: number;
  /** CPU cores the process may use, to scale cpu_utilization. Default `os.availableParallelism()`. */
  cores?: number;
}

/**
 * A server's ORCA load report (gRFC A51), sampled on a timer rather than
 * per call: `cpu_utilization` (the process's CPU time over wall time and
 * cores), `application_utilization` (the event loop's utilization: the
 * share of time it was busy, what limits a Node server first),
 * `mem_utilization` (RSS over total memory), `rps_fractional` and `eps`
 * (calls and failed calls per second over the last interval). The
 * serialized report is cached per sample, so attaching it costs one
 * header set per call.
 */
export class OrcaReporter {
  private readonly intervalMs: number;
  private readonly cores: number;
  private timer: NodeJS.Timeout | undefined;
  private lastAt = performance.now();
  private lastCpu = process.cpuUsage();
  private lastElu = performance.eventLoopUtilization();
  private calls = 0;
  private errors = 0;
  private reportValue: OrcaLoadReport = create(OrcaLoadReportSchema);
  private encoded: string | undefined;

  /** @param options - sampling interval and cores. */
  constructor(options: OrcaReporterOptions = {}) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.cores = options.cores ?? availableParallelism();
  }

  /** Starts sampling (the timer is unref'd: it never keeps a process alive). Idempotent. */
  start(): this {
    if (this.timer) return this;
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling; the last report stays. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Counts one finished call (for rps_fractional and eps). */
  recordCall(failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
  }

  /** The latest sample (all zero before the first). */
  get report(): OrcaLoadReport {
    return this.reportValue;
  }

  /** The latest sample, binary, base64 as a `-bin` trailer value. */
  get trailerValue(): string {
    this.encoded ??= encodeBinaryHeader(toBinary(OrcaLoadReportSchema, this.reportValue));
    return this.encoded;
  }

  /** Takes a sample now (the timer calls this; tests may too). */
  sample(): OrcaLoadReport {
    const now = performance.now();
    const wallMs = now - this.lastAt;
    if (wallMs <= 0) return this.reportValue;
    const cpu = process.cpuUsage(this.lastCpu);
    const elu = performance.eventLoopUtilization(this.lastElu);
    const seconds = wallMs / 1000;
    this.reportValue = create(OrcaLoadReportSchema, {
      cpuUtilization: (cpu.user + cpu.system) / 1000 / wallMs / this.cores,
      applicationUtilization: elu.utilization,
      memUtilization: Math.min(1, process.memoryUsage.rss() / totalmem()),
      rpsFractional: this.calls / seconds,
      eps: this.errors / seconds,
    });
    this.encoded = undefined;
    this.lastAt = now;
    this.lastCpu = process.cpuUsage();
    this.lastElu = performance.eventLoopUtilization();
    this.calls = 0;
    this.errors = 0;
    return this.reportValue;
  }

  /**
   * The reporter as a {@link UnaryTrailerHook}: it counts every call and
   * attaches the report to unary responses (success or error) per `mode`,
   * on connect-node's path and on the fast path alike. Streams are counted
   * but get no report: their trailers go out after the last message, and
   * per-call reports are for short calls (A51); out-of-band reporting
   * (OpenRcaService) is not implemented.
   */
  trailerHook(mode: Exclude<OrcaMode, "off">): UnaryTrailerHook {
    return {
      trailerName: ORCA_TRAILER,
      recordCall: (failed) => this.recordCall(failed),
      trailerValue: (header) =>
        mode === "always" || header(ORCA_REQUEST_HEADER) !== undefined ? this.trailerValue : undefined,
    };
  }

  /** {@link OrcaReporter.trailerHook} as a Connect interceptor, for servers of your own. */
  interceptor(mode: Exclude<OrcaMode, "off">): Interceptor {
    return trailerHookInterceptor(this.trailerHook(mode));
  }
}
