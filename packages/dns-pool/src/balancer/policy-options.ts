import { describeValue, invalidArgument } from "../core/errors.js";
import { PEAK_EWMA_DEFAULTS, type PeakEwmaOptions } from "./peak-ewma.js";
import { type PickFirstOptions, resolvePickFirst } from "./pick-first-order.js";
import type { PolicyOptions } from "./policy-context.js";
import type { SlowStartOptions } from "./slow-start.js";
import { WEIGHTED_ROUND_ROBIN_DEFAULTS, type WeightedRoundRobinOptions } from "./weighted-round-robin.js";

/** The pool options that tune balancing policies (see options.ts for each). */
export interface BalancingOptionsInput {
  /** Slow start; undefined or false: off. */
  readonly slowStart?: false | SlowStartOptions;
  /** peak_ewma's settings. */
  readonly peakEwma?: PeakEwmaOptions;
  /** weighted_round_robin's settings. */
  readonly weightedRoundRobin?: WeightedRoundRobinOptions;
  /** pick_first's settings. */
  readonly pickFirst?: PickFirstOptions;
  /** For registered policies, passed on as is. */
  readonly policyConfig?: unknown;
}

/**
 * Fills in the balancing options' defaults and checks every value.
 * @throws ConnectError with Code.InvalidArgument naming the option and the range it takes.
 */
export function resolvePolicyOptions(o: BalancingOptionsInput): PolicyOptions {
  const number = (
    name: string,
    value: number | undefined,
    fallback: number,
    min: number,
    max = Number.POSITIVE_INFINITY,
    minExclusive = false,
  ): number => {
    if (value === undefined) return fallback;
    const ok =
      typeof value === "number" &&
      Number.isFinite(value) &&
      (minExclusive ? value > min : value >= min) &&
      value <= max;
    if (!ok) {
      const range = `${minExclusive ? ">" : ">="} ${min}${max < Number.POSITIVE_INFINITY ? ` and <= ${max}` : ""}`;
      throw invalidArgument(`options.${name} must be a number ${range}, got ${describeValue(value)}`);
    }
    return value;
  };
  const ss = o.slowStart;
  if (
    ss !== undefined &&
    ss !== false &&
    (typeof ss !== "object" || ss === null || ss.windowMs === undefined)
  ) {
    throw invalidArgument(
      "options.slowStart must be false or { windowMs, aggression?, minWeightPercent? }: windowMs (the ramp's length in ms) is required",
    );
  }
  const pe = o.peakEwma ?? {};
  const defaultRttMs = number(
    "peakEwma.defaultRttMs",
    pe.defaultRttMs,
    PEAK_EWMA_DEFAULTS.defaultRttMs,
    0,
    1e9,
    true,
  );
  const wrr = o.weightedRoundRobin ?? {};
  const W = WEIGHTED_ROUND_ROBIN_DEFAULTS;
  return {
    slowStart: ss
      ? {
          windowMs: number("slowStart.windowMs", ss.windowMs, 0, 0, 3_600_000, true),
          aggression: number("slowStart.aggression", ss.aggression, 1, 0, 100, true),
          minWeightPercent: number("slowStart.minWeightPercent", ss.minWeightPercent, 10, 0, 100),
        }
      : undefined,
    peakEwma: {
      defaultRttMs,
      decayMs: number("peakEwma.decayMs", pe.decayMs, PEAK_EWMA_DEFAULTS.decayMs, 0, 1e9, true),
      failureRttMs: number("peakEwma.failureRttMs", pe.failureRttMs, defaultRttMs, 0, 1e9),
    },
    weightedRoundRobin: {
      blackoutPeriodMs: number(
        "weightedRoundRobin.blackoutPeriodMs",
        wrr.blackoutPeriodMs,
        W.blackoutPeriodMs,
        0,
      ),
      weightExpirationPeriodMs: number(
        "weightedRoundRobin.weightExpirationPeriodMs",
        wrr.weightExpirationPeriodMs,
        W.weightExpirationPeriodMs,
        0,
        Number.POSITIVE_INFINITY,
        true,
      ),
      // A58: values below 100 ms count as 100 ms.
      weightUpdatePeriodMs: Math.max(
        100,
        number(
          "weightedRoundRobin.weightUpdatePeriodMs",
          wrr.weightUpdatePeriodMs,
          W.weightUpdatePeriodMs,
          0,
        ),
      ),
      errorUtilizationPenalty: number(
        "weightedRoundRobin.errorUtilizationPenalty",
        wrr.errorUtilizationPenalty,
        W.errorUtilizationPenalty,
        0,
      ),
    },
    pickFirst: resolvePickFirst(o.pickFirst),
    config: o.policyConfig,
  };
}
