import type { Clock } from "../core/clock.js";
import { ConnectivityState } from "../core/connectivity.js";
import { NO_POLICY_TELEMETRY, type PolicyTelemetry } from "../telemetry/policy-instruments.js";
import { EdfScheduler } from "./edf-scheduler.js";
import { ORCA_REQUEST_HEADER, type OrcaLoadReport, readOrcaReport, reportedUtilization } from "./orca.js";
import { type Balanceable, type CallResult, EMPTY_PICKER, type Picker } from "./picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "./policy.js";

/**
 * Options of the `weighted_round_robin` policy (pool option
 * `weightedRoundRobin`), as gRPC's `WeightedRoundRobinLbConfig` (gRFC A58);
 * per-call reports only (no out-of-band stream).
 */
export interface WeightedRoundRobinOptions {
  /**
   * An endpoint must report load for this long before its weight is used,
   * both after it connects and after its weight expired: no churn while
   * endpoints come and go. Default 10000 (A58's 10 s). 0 uses weights at once.
   */
  blackoutPeriodMs?: number;
  /** A weight not refreshed by a report for this long is dropped (stale). Default 180000 (3 min). */
  weightExpirationPeriodMs?: number;
  /** How often the scheduler is rebuilt from the latest weights. Default 1000; values below 100 count as 100. */
  weightUpdatePeriodMs?: number;
  /** How much errors weigh: utilization += eps / qps × this. Default 1.0; must be >= 0. */
  errorUtilizationPenalty?: number;
}

/** {@link WeightedRoundRobinOptions} with every default filled in. */
export type ResolvedWeightedRoundRobin = Required<WeightedRoundRobinOptions>;

/** gRFC A58's defaults. */
export const WEIGHTED_ROUND_ROBIN_DEFAULTS: ResolvedWeightedRoundRobin = {
  blackoutPeriodMs: 10_000,
  weightExpirationPeriodMs: 180_000,
  weightUpdatePeriodMs: 1000,
  errorUtilizationPenalty: 1,
};

/** One endpoint's weight from its load reports, with A58's timestamps. */
export class EndpointWeight {
  /** qps / (utilization + eps / qps × penalty) from the last usable report. */
  weight = 0;
  /** When the current run of usable reports began; undefined: none yet, or reset. */
  nonEmptySince: number | undefined;
  /** When the last usable report came. */
  lastUpdated: number;

  /** @param now - creation time (a weight never reported expires from here). */
  constructor(now: number) {
    this.lastUpdated = now;
  }

  /**
   * A58's UpdateWeight, with utilization = application_utilization when
   * reported, else cpu_utilization. A report without qps or utilization
   * changes nothing. Returns whether the report was usable.
   */
  update(report: OrcaLoadReport, now: number, errorUtilizationPenalty: number): boolean {
    const qps = report.rpsFractional;
    let utilization = reportedUtilization(report);
    if (utilization > 0 && qps > 0) utilization += (report.eps / qps) * errorUtilizationPenalty;
    const weight = utilization > 0 ? qps / utilization : 0;
    if (!(weight > 0 && Number.isFinite(weight))) return false;
    this.nonEmptySince ??= now;
    this.lastUpdated = now;
    this.weight = weight;
    return true;
  }

  /** A58's GetWeight: 0 while in blackout or once expired (which restarts the blackout). */
  get(now: number, config: ResolvedWeightedRoundRobin): number {
    return this.status(now, config) === "usable" ? this.weight : 0;
  }

  /**
   * Whether the weight can be used now, in gRFC A78's terms:
   * "not_yet_usable" (no usable report yet, or within the blackout
   * period), "stale" (the last report is older than the expiration
   * period, which restarts the blackout) or "usable".
   */
  status(now: number, config: ResolvedWeightedRoundRobin): "usable" | "not_yet_usable" | "stale" {
    // Never reported: not yet usable, however long ago the endpoint joined (as grpc-go counts it).
    if (this.weight === 0) return "not_yet_usable";
    if (now - this.lastUpdated >= config.weightExpirationPeriodMs) {
      this.nonEmptySince = undefined;
      return "stale";
    }
    if (
      config.blackoutPeriodMs > 0 &&
      (this.nonEmptySince === undefined || now - this.nonEmptySince < config.blackoutPeriodMs)
    ) {
      return "not_yet_usable";
    }
    return "usable";
  }
}

/**
 * `weighted_round_robin` (gRFC A58): every READY endpoint in an
 * earliest-deadline-first rotation weighted by the load it reports with
 * each response (ORCA, `endpoint-load-metrics-bin`), so a pod that is
 * busier per call it serves (higher utilization at the same qps) gets
 * fewer. Endpoints without a usable weight get the mean weight; with fewer
 * than two weighted endpoints it is plain round robin. Weights are rebuilt
 * lazily on the first pick after each `weightUpdatePeriodMs`: no timer.
 * Each rebuild is a scheduler update for gRFC A78's `grpc.lb.wrr.*`
 * metrics (when the pool records metrics).
 */
export class WeightedRoundRobinPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "weighted_round_robin" */
  readonly name = "weighted_round_robin";
  /**
   * Asks servers that report load only on request (e.g. @rngbalance/connect-server
   * with `orca: "on-request"`) for a report; gRPC servers send one with every call anyway.
   */
  readonly requestHeaders = { [ORCA_REQUEST_HEADER]: "BIN" };
  /** Per-call reports seen: used (changed a weight), unusable (no qps/utilization), absent or malformed. */
  readonly reports = { used: 0, unusable: 0, missing: 0 };
  private readonly weights = new WeakMap<E, EndpointWeight>();
  private wasReady = new Set<E>();

  /**
   * @param config - defaults filled in.
   * @param clock - the pool's clock.
   * @param telemetry - gRFC A78's instruments. Default: none.
   */
  constructor(
    private readonly config: ResolvedWeightedRoundRobin,
    private readonly clock: Clock,
    private readonly telemetry: PolicyTelemetry = NO_POLICY_TELEMETRY,
  ) {}

  /**
   * A weighted rotation over `ready` (the pickable endpoints). Which ones
   * (re)connected is read from `all`'s connectivity, not from `ready`: an
   * endpoint that liveness doubted for a moment was READY all along, and
   * restarting its blackout would zero its weight again and again under load.
   */
  buildPicker(ready: readonly E[], all: readonly E[] = ready): Picker<E> {
    const now = this.clock.now();
    const connected = new Set<E>();
    for (const e of all) if (e.state === ConnectivityState.READY) connected.add(e);
    for (const e of ready) connected.add(e);
    const weights = ready.map((e) => {
      let w = this.weights.get(e);
      if (!w) {
        w = new EndpointWeight(now);
        this.weights.set(e, w);
      }
      // A58: an endpoint that (re)connects starts a new blackout.
      if (!this.wasReady.has(e)) w.nonEmptySince = undefined;
      return w;
    });
    this.wasReady = connected;
    if (ready.length === 0) return EMPTY_PICKER;
    return new WeightedRoundRobinPicker(ready, weights, this, this.config, this.clock, this.telemetry);
  }

  /** The current weight of an endpoint (0: none usable yet), for stats and tests. */
  weightOf(endpoint: E): number {
    return this.weights.get(endpoint)?.get(this.clock.now(), this.config) ?? 0;
  }

  /** Takes the load report of a call that ended on `endpoint`. */
  record(endpoint: E, report: OrcaLoadReport | undefined): void {
    if (!report) {
      this.reports.missing++;
      return;
    }
    const w = this.weights.get(endpoint);
    if (w?.update(report, this.clock.now(), this.config.errorUtilizationPenalty)) this.reports.used++;
    else this.reports.unusable++;
  }
}

/** An EDF rotation rebuilt from the endpoints' weights every update period. */
export class WeightedRoundRobinPicker<E extends Balanceable> implements Picker<E> {
  private scheduler: EdfScheduler | undefined;
  private nextUpdateAt = Number.NEGATIVE_INFINITY;

  /**
   * @param ready - the READY endpoints, not empty.
   * @param weights - their weights, index for index.
   * @param sink - takes each call's load report.
   * @param config - periods.
   * @param clock - the pool's clock.
   * @param telemetry - where each scheduler update is recorded (gRFC A78). Default: nowhere.
   */
  constructor(
    private readonly ready: readonly E[],
    private readonly weights: readonly EndpointWeight[],
    private readonly sink: { record(endpoint: E, report: OrcaLoadReport | undefined): void },
    private readonly config: ResolvedWeightedRoundRobin,
    private readonly clock: Clock,
    private readonly telemetry: PolicyTelemetry = NO_POLICY_TELEMETRY,
  ) {}

  /** The next endpoint of the weighted rotation. */
  pick(): E | undefined {
    const now = this.clock.now();
    if (now >= this.nextUpdateAt || this.scheduler === undefined) this.scheduler = this.build(now);
    return this.ready[this.scheduler.pick()];
  }

  /** Reads the call's ORCA report, if any, into the endpoint's weight. */
  onDone(endpoint: E, result: CallResult): void {
    this.sink.record(endpoint, readOrcaReport(result.trailers));
  }

  private build(now: number): EdfScheduler {
    this.nextUpdateAt = now + Math.max(100, this.config.weightUpdatePeriodMs);
    let positive = 0;
    let sum = 0;
    let notYetUsable = 0;
    let stale = 0;
    const current = this.weights.map((w) => {
      const status = w.status(now, this.config);
      if (status === "not_yet_usable") notYetUsable++;
      else if (status === "stale") stale++;
      if (status !== "usable") return 0;
      positive++;
      sum += w.weight;
      return w.weight;
    });
    // A58: fewer than two weighted endpoints is plain round robin; the
    // unweighted ones get the mean, so they are still picked.
    this.telemetry.wrrSchedulerUpdate({ weights: current, notYetUsable, stale, rrFallback: positive < 2 });
    const mean = positive < 2 ? 1 : sum / positive;
    return new EdfScheduler(current.map((w) => (positive >= 2 && w > 0 ? w : mean)));
  }
}
