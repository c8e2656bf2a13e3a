import type { Attributes, Meter } from "@opentelemetry/api";
import { METRIC } from "./names.js";

/** What weighted_round_robin found of its endpoints' weights at one scheduler update (gRFC A78). */
export interface WrrSchedulerUpdate {
  /** Each endpoint's weight, 0 for those without a usable one. */
  readonly weights: readonly number[];
  /** Endpoints with no usable weight yet: no load report yet, or within the blackout period. */
  readonly notYetUsable: number;
  /** Endpoints whose last report is older than the expiration period. */
  readonly stale: number;
  /** True when fewer than two endpoints had a usable weight, so the rotation is plain round robin. */
  readonly rrFallback: boolean;
}

/**
 * The instruments of gRFC A78 that the built-in policies record into,
 * labelled with the pool's `grpc.target`; handed to policies through
 * their `PolicyContext`. A no-op when metrics are off.
 */
export interface PolicyTelemetry {
  /** weighted_round_robin rebuilt its scheduler (`grpc.lb.wrr.*`). */
  wrrSchedulerUpdate(update: WrrSchedulerUpdate): void;
  /** pick_first: an endpoint it asked for got connected (`grpc.lb.pick_first.connection_attempts_succeeded`). */
  pickFirstConnectionSucceeded(): void;
  /** pick_first: a connection attempt failed (`grpc.lb.pick_first.connection_attempts_failed`). */
  pickFirstConnectionFailed(): void;
  /** pick_first: the selected endpoint's connection was lost (`grpc.lb.pick_first.disconnections`). */
  pickFirstDisconnected(): void;
}

/** A policy telemetry that records nothing. */
export const NO_POLICY_TELEMETRY: PolicyTelemetry = {
  wrrSchedulerUpdate() {},
  pickFirstConnectionSucceeded() {},
  pickFirstConnectionFailed() {},
  pickFirstDisconnected() {},
};

/**
 * gRFC A78's weighted_round_robin and pick_first instruments, with its
 * units and descriptions. Every record carries `grpc.target` only: A78's
 * optional `grpc.lb.locality` (and A89's `grpc.lb.backend_service`) come
 * from xDS, which a pool does not use, so they are left out as optional
 * labels are by default (gRFC A79).
 */
export function policyInstruments(m: Meter, attrs: Attributes): PolicyTelemetry {
  const rrFallback = m.createCounter(METRIC.wrrRrFallback, {
    unit: "{update}",
    description:
      "Number of scheduler updates in which there were not enough endpoints with valid weight, which caused the WRR policy to fall back to RR behavior.",
  });
  const notYetUsable = m.createCounter(METRIC.wrrNotYetUsable, {
    unit: "{endpoint}",
    description:
      "Number of endpoints from each scheduler update that don't yet have usable weight information (i.e., either the load report has not yet been received, or it is within the blackout period).",
  });
  const stale = m.createCounter(METRIC.wrrStale, {
    unit: "{endpoint}",
    description:
      "Number of endpoints from each scheduler update whose latest weight is older than the expiration period.",
  });
  const weights = m.createHistogram(METRIC.wrrWeights, {
    unit: "{weight}",
    description:
      "Weight of each endpoint, recorded on every scheduler update. Endpoints without usable weights will be recorded as weight 0.",
  });
  const disconnections = m.createCounter(METRIC.pickFirstDisconnections, {
    unit: "{disconnection}",
    description: "Number of times the selected subchannel becomes disconnected.",
  });
  const succeeded = m.createCounter(METRIC.pickFirstSucceeded, {
    unit: "{attempt}",
    description: "Number of successful connection attempts.",
  });
  const failed = m.createCounter(METRIC.pickFirstFailed, {
    unit: "{attempt}",
    description: "Number of failed connection attempts.",
  });
  return {
    wrrSchedulerUpdate(update) {
      if (update.rrFallback) rrFallback.add(1, attrs);
      if (update.notYetUsable > 0) notYetUsable.add(update.notYetUsable, attrs);
      if (update.stale > 0) stale.add(update.stale, attrs);
      for (const w of update.weights) weights.record(w, attrs);
    },
    pickFirstConnectionSucceeded: () => succeeded.add(1, attrs),
    pickFirstConnectionFailed: () => failed.add(1, attrs),
    pickFirstDisconnected: () => disconnections.add(1, attrs),
  };
}
