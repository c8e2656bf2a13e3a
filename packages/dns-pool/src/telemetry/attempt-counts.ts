import type { Attributes, Meter } from "@opentelemetry/api";
import { METRIC } from "./names.js";

/** Attempts started for one attribute set (`grpc.method`, `grpc.target`). */
export interface AttemptCount {
  /** What the count is reported with. */
  readonly attributes: Attributes;
  /** Attempts started so far: a pool adds 1 per attempt. */
  value: number;
}

/** Every meter's counts, by attribute set. */
const countsByMeter = new WeakMap<Meter, Map<string, AttemptCount>>();

/**
 * The count of `grpc.client.attempt.started` for `method` on `target`,
 * shared by every pool of the meter.
 *
 * Why an observable counter: an attempt then costs an increment, not an SDK
 * record (the SDK hashes a record's attributes on every record); the
 * exported data is the same monotonic sum. Why shared: an observable
 * instrument keeps one observation per attribute set and collection, so two
 * pools on one target each observing their own count would overwrite each
 * other, where a synchronous counter adds. One callback per meter reports
 * the sums, and goes on reporting a closed pool's attempts, as the SDK does
 * for a synchronous counter's series.
 *
 * @param meter - the meter the pool's instruments come from (the SDK's,
 *   not a wrapper: pools share its counts).
 * @param method - `grpc.method`.
 * @param target - `grpc.target`.
 * @param attributes - both, as the attributes to report.
 */
export function attemptCount(
  meter: Meter,
  method: string,
  target: string,
  attributes: Attributes,
): AttemptCount {
  let counts = countsByMeter.get(meter);
  if (counts === undefined) {
    const all = new Map<string, AttemptCount>();
    counts = all;
    countsByMeter.set(meter, all);
    meter
      .createObservableCounter(METRIC.attemptStarted, {
        unit: "{attempt}",
        description: "RPC attempts started, including those not completed.",
      })
      .addCallback((result) => {
        for (const count of all.values()) result.observe(count.value, count.attributes);
      });
  }
  const key = JSON.stringify([method, target]);
  let count = counts.get(key);
  if (count === undefined) {
    count = { attributes, value: 0 };
    counts.set(key, count);
  }
  return count;
}
