import type { ConnectError } from "@connectrpc/connect";
import type { Clock, TimerHandle } from "../core/clock.js";
import type { EjectionEvent } from "../core/events.js";
import {
  emptySweepStats,
  type OutlierDetectionOptions,
  type OutlierSweepStats,
  type OutlierTracked,
  sweepOutliers,
} from "./outlier-detection.js";

/** An endpoint as outlier detection tracks it. */
export interface OutlierEndpoint extends OutlierTracked {
  /** For events. */
  readonly address: string;
}

/**
 * Outlier detection (gRFC A50) for one pool: counts each call's outcome per
 * endpoint and, every `intervalMs`, sweeps: ejects endpoints that fail much
 * more than the others and lets expired ones back in. Ejected endpoints
 * report TRANSIENT_FAILURE, so the next picker leaves them out.
 */
export class OutlierDetector {
  private timer: TimerHandle | undefined;
  private stopped = false;

  /**
   * @param options - resolved settings.
   * @param clock - the sweep timer and ejection times.
   * @param endpoints - the endpoints to judge (read at each sweep).
   * @param onEjection - an endpoint was ejected or let back in.
   * @param onChange - after a sweep that changed any ejection (rebuild the picker).
   * @param onSweep - what each sweep found and did (for gRFC A91's counters). Default: nothing.
   */
  constructor(
    private readonly options: OutlierDetectionOptions,
    private readonly clock: Clock,
    private readonly endpoints: () => readonly OutlierEndpoint[],
    private readonly onEjection: (event: EjectionEvent) => void,
    private readonly onChange: () => void,
    private readonly onSweep: (stats: OutlierSweepStats) => void = () => {},
  ) {
    this.schedule();
  }

  /** Counts a finished call: a failure if its code is one of `failureCodes`, else a success. */
  record(endpoint: OutlierTracked, error: ConnectError | undefined): void {
    if (error && this.options.failureCodes.includes(error.code)) endpoint.intervalFailures++;
    else endpoint.intervalSuccesses++;
  }

  /** Judges the endpoints now (the timer calls this every interval). */
  sweep(): void {
    const endpoints = this.endpoints();
    const before = endpoints.map((e) => e.ejectedUntil);
    const stats = emptySweepStats();
    const changed = sweepOutliers(endpoints, this.options, this.clock.now(), stats);
    this.onSweep(stats);
    if (!changed) return;
    endpoints.forEach((e, i) => {
      const was = before[i] as number;
      if ((was === 0) !== (e.ejectedUntil === 0)) {
        this.onEjection({
          address: e.address,
          ejected: e.ejectedUntil !== 0,
          untilMs: e.ejectedUntil === 0 ? undefined : e.ejectedUntil - this.clock.now(),
        });
      }
    });
    this.onChange();
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
