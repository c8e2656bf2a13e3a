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
        /**
         * The chance, in percent, that a detected outlier is ejected (A50's
         * `enforcement_percentage`); the others are counted as unenforced
         * (gRFC A91). 0 detects and counts without ever ejecting. Default 100.
         */
        enforcementPercentage?: number;
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
        /**
         * The chance, in percent, that a detected outlier is ejected (A50's
         * `enforcement_percentage`); the others are counted as unenforced
         * (gRFC A91). 0 detects and counts without ever ejecting. Default 100.
         */
        enforcementPercentage?: number;
      };
  /** The codes that count as a failure. Default UNKNOWN, INTERNAL, UNAVAILABLE, DATA_LOSS, DEADLINE_EXCEEDED. */
  failureCodes: Code[];
}

/**
 * One endpoint's outlier-detection record: the detector's own, kept per
 * endpoint (as peak_ewma keeps its estimates), never on the endpoint.
 */
export interface OutlierRecord {
  /** Calls that succeeded since the last sweep. */
  intervalSuccesses: number;
  /** Calls that failed (with a failure code) since the last sweep. */
  intervalFailures: number;
  /** Ejected until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil: number;
  /** Grows with each ejection, shrinks with each clean interval (A50's multiplier). */
  ejectionMultiplier: number;
}

/** A record of an endpoint not yet judged: no calls, never ejected. */
export function newOutlierRecord(): OutlierRecord {
  return { intervalSuccesses: 0, intervalFailures: 0, ejectedUntil: 0, ejectionMultiplier: 0 };
}

/** gRFC A91's `grpc.lb.outlier_detection.detection_method`: the algorithm that found an outlier. */
export type DetectionMethod = "success_rate" | "failure_percentage";

/**
 * gRFC A91's `grpc.lb.outlier_detection.unenforced_reason`: why a detected
 * outlier was not ejected. "max_ejection_overflow": `maxEjectionPercent`
 * of the endpoints are ejected already; "enforcement_percentage": the
 * draw against `enforcementPercentage` said no.
 */
export type UnenforcedReason = "enforcement_percentage" | "max_ejection_overflow";

/** What one sweep did (gRFC A91's counters): outliers ejected, and outliers found but left in. */
export interface OutlierSweepStats {
  /** Outliers ejected, by the method that found them. */
  enforced: Record<DetectionMethod, number>;
  /** Outliers found but not ejected, by method and reason. */
  unenforced: Record<DetectionMethod, Record<UnenforcedReason, number>>;
}

/** Zero counts, for {@link sweepOutlierRecords}' `stats`. */
export function emptySweepStats(): OutlierSweepStats {
  const reasons = () => ({ enforcement_percentage: 0, max_ejection_overflow: 0 });
  return {
    enforced: { success_rate: 0, failure_percentage: 0 },
    unenforced: { success_rate: reasons(), failure_percentage: reasons() },
  };
}

/**
 * Judges endpoints every interval, as gRFC A50 describes: success-rate and
 * failure-percentage ejection, ejection time growing with repeat offences,
 * and never more than `maxEjectionPercent` of the endpoints ejected (one
 * ejection is always allowed), and each outlier ejected with a chance of
 * its method's `enforcementPercentage` (the share is checked first, as
 * grpc-go does). Not pure: it updates the records in place (ejection
 * times, multipliers, and the interval counts reset to 0); they are the
 * detector's own, one per endpoint. Returns true when any ejection
 * changed; adds what it found and did to `stats` when given.
 *
 * @param random - a number in [0, 1) per draw against `enforcementPercentage`. Default Math.random.
 */
export function sweepOutlierRecords(
  endpoints: readonly OutlierRecord[],
  o: OutlierDetectionOptions,
  now: number,
  stats: OutlierSweepStats = emptySweepStats(),
  random: () => number = Math.random,
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
  /** Ejects the outlier `e` that `method` found, if allowed, and counts what happened. */
  const eject = (e: OutlierRecord, method: DetectionMethod, enforcementPercentage = 100): void => {
    // Already out: found again, nothing to enforce.
    if (e.ejectedUntil !== 0) return;
    // A50: check the share before ejecting, so at least one can always go.
    if ((ejected * 100) / endpoints.length >= o.maxEjectionPercent && ejected > 0) {
      stats.unenforced[method].max_ejection_overflow++;
      return;
    }
    if (enforcementPercentage < 100 && random() * 100 >= enforcementPercentage) {
      stats.unenforced[method].enforcement_percentage++;
      return;
    }
    e.ejectionMultiplier++;
    const time = Math.min(
      o.baseEjectionTimeMs * e.ejectionMultiplier,
      Math.max(o.baseEjectionTimeMs, o.maxEjectionTimeMs),
    );
    e.ejectedUntil = now + time;
    ejected++;
    changed = true;
    stats.enforced[method]++;
  };
  if (o.successRate) {
    const { requestVolume, minimumHosts, stdevFactor, enforcementPercentage } = o.successRate;
    const judged = endpoints.filter((e) => e.intervalSuccesses + e.intervalFailures >= requestVolume);
    if (judged.length >= minimumHosts) {
      const rates = judged.map((e) => e.intervalSuccesses / (e.intervalSuccesses + e.intervalFailures));
      const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
      const stdev = Math.sqrt(rates.reduce((a, r) => a + (r - mean) ** 2, 0) / rates.length);
      judged.forEach((e, i) => {
        if ((rates[i] as number) < mean - stdevFactor * stdev)
          eject(e, "success_rate", enforcementPercentage);
      });
    }
  }
  if (o.failurePercentage) {
    const { requestVolume, minimumHosts, threshold, enforcementPercentage } = o.failurePercentage;
    const judged = endpoints.filter((e) => e.intervalSuccesses + e.intervalFailures >= requestVolume);
    if (judged.length >= minimumHosts) {
      for (const e of judged) {
        if ((e.intervalFailures * 100) / (e.intervalSuccesses + e.intervalFailures) > threshold) {
          eject(e, "failure_percentage", enforcementPercentage);
        }
      }
    }
  }
  for (const e of endpoints) {
    e.intervalSuccesses = 0;
    e.intervalFailures = 0;
  }
  return changed;
}
