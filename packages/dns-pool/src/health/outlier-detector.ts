import type { ConnectError } from "@connectrpc/connect";
import type { Clock, TimerHandle } from "../core/clock.js";
import { lostToLiveness } from "../core/errors.js";
import type { EjectionEvent } from "../core/events.js";
import {
  emptySweepStats,
  newOutlierRecord,
  type OutlierDetectionOptions,
  type OutlierRecord,
  type OutlierSweepStats,
  sweepOutlierRecords,
} from "./outlier-detection.js";

/** An endpoint as outlier detection sees it. */
export interface OutlierEndpoint {
  /** For events. */
  readonly address: string;
  /** Ejects it (true: its state becomes TRANSIENT_FAILURE) or lets it back in (false). */
  setEjected(ejected: boolean): void;
}

/** What the detector reports. */
export interface OutlierListener {
  /** An endpoint was ejected or let back in (reported before the endpoint is told). */
  onEjection(event: EjectionEvent): void;
  /** What each sweep found and did (for gRFC A91's counters). Default: nothing. */
  onSweep?(stats: OutlierSweepStats): void;
}

/**
 * Outlier detection (gRFC A50) for one pool: counts each call's outcome per
 * endpoint and, every `intervalMs`, sweeps: ejects endpoints that fail much
 * more than the others and lets expired ones back in. It keeps every
 * endpoint's record itself (keyed by endpoint, as peak_ewma keeps its
 * estimates) and tells an endpoint only whether it is ejected; an ejected
 * endpoint reports TRANSIENT_FAILURE, so the next picker leaves it out.
 */
export class OutlierDetector<E extends OutlierEndpoint = OutlierEndpoint> {
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly records = new WeakMap<E, OutlierRecord>();

  /**
   * @param options - resolved settings.
   * @param clock - the sweep timer and ejection times.
   * @param source - the endpoints to judge (read at each sweep), and, if it
   *   has one, a `batch` that folds the ejections of one sweep into one change.
   * @param listener - receives ejections and sweep counts.
   */
  constructor(
    private readonly options: OutlierDetectionOptions,
    private readonly clock: Clock,
    private readonly source: { readonly endpoints: readonly E[]; batch?(changes: () => void): void },
    private readonly listener: OutlierListener,
  ) {
    this.schedule();
  }

  /**
   * Counts a finished call: a failure if its code is one of `failureCodes`,
   * else a success. A call lost with a connection that liveness found silent
   * is not counted: the dead connection is already gone, and its fresh one
   * should get calls as soon as it answers, not after an ejection.
   */
  record(endpoint: E, error: ConnectError | undefined): void {
    if (error !== undefined && lostToLiveness(error)) return;
    const r = this.recordOf(endpoint);
    if (error && this.options.failureCodes.includes(error.code)) r.intervalFailures++;
    else r.intervalSuccesses++;
  }

  /** How much longer `endpoint` stays ejected after `now` (ms since epoch); 0 when it is in. */
  ejectedForMs(endpoint: E, now: number): number {
    const until = this.records.get(endpoint)?.ejectedUntil ?? 0;
    return until === 0 ? 0 : Math.max(0, until - now);
  }

  /** The endpoint's record (made on first use). */
  recordOf(endpoint: E): OutlierRecord {
    let r = this.records.get(endpoint);
    if (r === undefined) {
      r = newOutlierRecord();
      this.records.set(endpoint, r);
    }
    return r;
  }

  /** Judges the endpoints now (the timer calls this every interval). */
  sweep(): void {
    const endpoints = this.source.endpoints;
    const records = endpoints.map((e) => this.recordOf(e));
    const before = records.map((r) => r.ejectedUntil);
    const stats = emptySweepStats();
    const changed = sweepOutlierRecords(records, this.options, this.clock.now(), stats);
    this.listener.onSweep?.(stats);
    if (!changed) return;
    const apply = () =>
      endpoints.forEach((e, i) => {
        const was = before[i] as number;
        const until = (records[i] as OutlierRecord).ejectedUntil;
        if ((was === 0) === (until === 0)) return;
        this.listener.onEjection({
          address: e.address,
          ejected: until !== 0,
          untilMs: until === 0 ? undefined : until - this.clock.now(),
        });
        e.setEjected(until !== 0);
      });
    if (this.source.batch) this.source.batch(apply);
    else apply();
  }

  /** Stops the timer for good. */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.sweep();
      this.schedule();
    }, this.options.intervalMs);
    // Sweeping must never keep the process alive.
    this.timer.unref();
  }
}
