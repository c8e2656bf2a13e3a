import type { Code } from "@connectrpc/connect";

/**
 * Outlier ejection settings (gRFC A50). An endpoint is ejected for
 * `baseEjectionTimeMs` x (times ejected), at most `maxEjectionTimeMs`.
 */
export interface OutlierDetectionOptions {
  /** How often endpoints are judged. Default 2000. */
  intervalMs: number;
  /** How long a first ejection lasts. Default 30000. */
  baseEjectionTimeMs: number;
  /** The longest ejection. Default 300000. */
  maxEjectionTimeMs: number;
  /** Never eject more than this share of endpoints (one is always allowed). Default 10. */
  maxEjectionPercent: number;
  /** Eject an endpoint whose failure percentage is above `threshold`. `false` disables. Defaults below. */
  failurePercentage:
    | false
    | {
        /** Failure percentage above which an endpoint is ejected. Default 85. */
        threshold: number;
        /** Judge only with at least this many endpoints having enough calls. Default 3. */
        minimumHosts: number;
        /** Calls an endpoint needs in the interval to be judged. Default 20. */
        requestVolume: number;
      };
  /** Eject an endpoint whose success rate is below mean - stdevFactor x stdev. `false` disables. Defaults below. */
  successRate:
    | false
    | {
        /** How many standard deviations below the mean counts as an outlier. Default 1.9. */
        stdevFactor: number;
        /** Judge only with at least this many endpoints having enough calls. Default 5. */
        minimumHosts: number;
        /** Calls an endpoint needs in the interval to be judged. Default 100. */
        requestVolume: number;
      };
  /** The codes that count as a failure. Default UNKNOWN, INTERNAL, UNAVAILABLE, DATA_LOSS, DEADLINE_EXCEEDED. */
  failureCodes: Code[];
}

/** The per-endpoint bookkeeping outlier detection needs. */
export interface OutlierTracked {
  /** Calls that succeeded since the last sweep. */
  intervalSuccesses: number;
  /** Calls that failed (with a failure code) since the last sweep. */
  intervalFailures: number;
  /** Ejected until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil: number;
  /** Grows with each ejection, shrinks with each clean interval (A50's multiplier). */
  ejectionMultiplier: number;
}

/** What one sweep did, by outlier type (gRFC A91's counters). */
export interface OutlierSweepStats {
  /** Endpoints ejected, any type. */
  enforced: number;
  /** Ejections not made because `maxEjectionPercent` was reached. */
  overflow: number;
  /** Success-rate outliers ejected. */
  enforcedSuccessRate: number;
  /** Success-rate outliers found (ejected or not). */
  detectedSuccessRate: number;
  /** Failure-percentage outliers ejected. */
  enforcedFailurePercentage: number;
  /** Failure-percentage outliers found (ejected or not). */
  detectedFailurePercentage: number;
}

/** Zero counts, for {@link sweepOutliers}' `stats`. */
export function emptySweepStats(): OutlierSweepStats {
  return {
    enforced: 0,
    overflow: 0,
    enforcedSuccessRate: 0,
    detectedSuccessRate: 0,
    enforcedFailurePercentage: 0,
    detectedFailurePercentage: 0,
  };
}

/**
 * Judges endpoints every interval, as gRFC A50 describes: success-rate and
 * failure-percentage ejection, ejection time growing with repeat offences,
 * and never more than `maxEjectionPercent` of the endpoints ejected (one
 * ejection is always allowed). Returns true when any ejection changed;
 * adds what it found and did to `stats` when given.
 */
export function sweepOutliers(
  endpoints: readonly OutlierTracked[],
  o: OutlierDetectionOptions,
  now: number,
  stats: OutlierSweepStats = emptySweepStats(),
): boolean {
  let changed = false;
  for (const e of endpoints) {
    if (e.ejectedUntil !== 0 && e.ejectedUntil <= now) {
      e.ejectedUntil = 0;
      changed = true;
    } else if (e.ejectedUntil === 0 && e.ejectionMultiplier > 0) {
      e.ejectionMultiplier--;
    }
  }
  let ejected = endpoints.filter((e) => e.ejectedUntil !== 0).length;
  /** Ejects `e` if allowed; true when it did. */
  const eject = (e: OutlierTracked): boolean => {
    if (e.ejectedUntil !== 0) return false;
    // A50: check the share before ejecting, so at least one can always go.
    if ((ejected * 100) / endpoints.length >= o.maxEjectionPercent && ejected > 0) {
      stats.overflow++;
      return false;
    }
    e.ejectionMultiplier++;
    const time = Math.min(
      o.baseEjectionTimeMs * e.ejectionMultiplier,
      Math.max(o.baseEjectionTimeMs, o.maxEjectionTimeMs),
    );
    e.ejectedUntil = now + time;
    ejected++;
    changed = true;
    stats.enforced++;
    return true;
  };
  if (o.successRate) {
    const { requestVolume, minimumHosts, stdevFactor } = o.successRate;
    const judged = endpoints.filter((e) => e.intervalSuccesses + e.intervalFailures >= requestVolume);
    if (judged.length >= minimumHosts) {
      const rates = judged.map((e) => e.intervalSuccesses / (e.intervalSuccesses + e.intervalFailures));
      const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
      const stdev = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length);
      judged.forEach((e, i) => {
        if ((rates[i] as number) >= mean - stdevFactor * stdev) return;
        stats.detectedSuccessRate++;
        if (eject(e)) stats.enforcedSuccessRate++;
      });
    }
  }
  if (o.failurePercentage) {
    const { requestVolume, minimumHosts, threshold } = o.failurePercentage;
    const judged = endpoints.filter((e) => e.intervalSuccesses + e.intervalFailures >= requestVolume);
    if (judged.length >= minimumHosts) {
      for (const e of judged) {
        if ((e.intervalFailures * 100) / (e.intervalSuccesses + e.intervalFailures) <= threshold) continue;
        stats.detectedFailurePercentage++;
        if (eject(e)) stats.enforcedFailurePercentage++;
      }
    }
  }
  for (const e of endpoints) {
    e.intervalSuccesses = 0;
    e.intervalFailures = 0;
  }
  return changed;
}
