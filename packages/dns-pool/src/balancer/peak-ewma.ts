import { Code } from "@connectrpc/connect";
import type { Clock } from "../core/clock.js";
import { type Balanceable, type CallResult, EMPTY_PICKER, MIN_WEIGHT, type Picker } from "./picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "./policy.js";
import { type ResolvedSlowStart, SlowStart, type SlowStartWeights } from "./slow-start.js";

/**
 * Options of the `peak_ewma` policy (pool option `peakEwma`). The defaults
 * are Linkerd's.
 */
export interface PeakEwmaOptions {
  /**
   * RTT assumed for an endpoint that has answered no call yet, in ms.
   * Default 30 (Linkerd's). Lower it if your calls take much less: a new
   * endpoint is avoided until its assumed RTT has decayed below the
   * others' (a natural, if crude, slow start).
   */
  defaultRttMs?: number;
  /**
   * The estimate's time constant, in ms: older samples count less by
   * e^(-age / decayMs), and an endpoint that gets no calls sees its
   * estimate decay toward 0 at that pace, so it is tried again. Default
   * 10000 (Linkerd's 10 s). Must be > 0.
   */
  decayMs?: number;
  /**
   * A failed call counts as an RTT of at least this, in ms, so that an
   * endpoint failing fast does not look fast and draw every call (a black
   * hole). Default: `defaultRttMs`. 0 takes failures at face value, as
   * Linkerd does (it leaves failures to failure accrual).
   */
  failureRttMs?: number;
}

/** {@link PeakEwmaOptions} with every default filled in. */
export type ResolvedPeakEwma = Required<PeakEwmaOptions>;

/** The defaults: Linkerd's. */
export const PEAK_EWMA_DEFAULTS: ResolvedPeakEwma = { defaultRttMs: 30, decayMs: 10_000, failureRttMs: 30 };

/**
 * One endpoint's peak-EWMA round-trip estimate (Finagle's `PeakEwma`,
 * tower's and so Linkerd's `PeakEwma`): it jumps up to any sample above
 * it at once (the peak), follows lower samples as a time-weighted moving
 * average, and decays toward 0 while no sample comes, so that an endpoint
 * that was avoided because it was slow is tried again after a while.
 */
export class RttEstimate {
  private rttMs: number;
  private stampMs: number;
  private sampled = false;

  /**
   * @param initialMs - the estimate before any sample (the default RTT).
   * @param nowMs - when it starts decaying.
   * @param decayMs - the time constant.
   */
  constructor(
    initialMs: number,
    nowMs: number,
    private readonly decayMs: number,
  ) {
    this.rttMs = initialMs;
    this.stampMs = nowMs;
  }

  /** The estimate at `nowMs`, decayed toward 0 since the last sample. */
  read(nowMs: number): number {
    const age = nowMs - this.stampMs;
    return age <= 0 ? this.rttMs : this.rttMs * Math.exp(-age / this.decayMs);
  }

  /**
   * Takes a sample: the first replaces the default (a guess, not data); a
   * peak replaces the estimate; a lower sample is averaged in, weighted by
   * the time since the last one (so a burst of samples in one instant
   * counts as one, and the average is over time, not over calls).
   */
  observe(rttMs: number, nowMs: number): void {
    if (!this.sampled) {
      this.sampled = true;
      this.rttMs = rttMs;
      this.stampMs = nowMs;
      return;
    }
    const age = Math.max(0, nowMs - this.stampMs);
    const w = Math.exp(-age / this.decayMs);
    // The peak test is against the estimate as read now (decayed while idle);
    // the average is the stored estimate weighted by the time since it was set.
    this.rttMs = rttMs > this.rttMs * w ? rttMs : this.rttMs * w + rttMs * (1 - w);
    this.stampMs = nowMs;
  }
}

/**
 * `peak_ewma`: power of two choices over the READY endpoints, with cost
 * = peak-EWMA RTT × (calls in flight + 1), as Finagle and Linkerd balance.
 * Latency and queueing both count, so a slow endpoint gets few calls and
 * a busy one fewer. With slow start, the cost is divided by the ramp weight.
 */
export class PeakEwmaPolicy<E extends EndpointInfo> implements LoadBalancingPolicy<E> {
  /** "peak_ewma" */
  readonly name = "peak_ewma";
  private readonly estimates = new WeakMap<E, RttEstimate>();
  private readonly slowStart: SlowStart<E> | undefined;

  /**
   * @param config - defaults filled in.
   * @param clock - the pool's clock.
   * @param slowStart - the ramp of joining endpoints; undefined for none.
   */
  constructor(
    private readonly config: ResolvedPeakEwma,
    private readonly clock: Clock,
    slowStart?: ResolvedSlowStart,
  ) {
    this.slowStart = slowStart && new SlowStart<E>(slowStart, clock);
  }

  /** A P2C picker over the READY endpoints' current estimates. */
  buildPicker(ready: readonly E[], all: readonly E[]): Picker<E> {
    const ramp = this.slowStart?.update(all);
    if (ready.length === 0) return EMPTY_PICKER;
    const now = this.clock.now();
    const estimates = ready.map((e) => {
      let estimate = this.estimates.get(e);
      if (!estimate) {
        estimate = new RttEstimate(this.config.defaultRttMs, now, this.config.decayMs);
        this.estimates.set(e, estimate);
      }
      return estimate;
    });
    return new PeakEwmaPicker(ready, estimates, this.estimates, this.config, this.clock, ramp);
  }
}

/** The less costly of two random READY endpoints; learns from every call's latency. */
export class PeakEwmaPicker<E extends Balanceable> implements Picker<E> {
  /**
   * @param ready - the READY endpoints, not empty.
   * @param estimates - their estimates, index for index.
   * @param byEndpoint - every estimate of the policy, for `onDone`.
   * @param config - failure RTT.
   * @param clock - the pool's clock.
   * @param ramp - slow-start weights, if any endpoint is ramping.
   */
  constructor(
    private readonly ready: readonly E[],
    private readonly estimates: readonly RttEstimate[],
    private readonly byEndpoint: WeakMap<E, RttEstimate>,
    private readonly config: ResolvedPeakEwma,
    private readonly clock: Clock,
    private ramp?: SlowStartWeights<E>,
  ) {}

  /** Of two distinct random endpoints, the one with the lower RTT × (in flight + 1). */
  pick(): E | undefined {
    const n = this.ready.length;
    const i = Math.floor(Math.random() * n);
    if (n === 1) return this.ready[0];
    let j = Math.floor(Math.random() * (n - 1));
    if (j >= i) j++;
    const now = this.clock.now();
    const a = this.ready[i] as E;
    const b = this.ready[j] as E;
    let costA = (this.estimates[i] as RttEstimate).read(now) * (a.inFlight + 1);
    let costB = (this.estimates[j] as RttEstimate).read(now) * (b.inFlight + 1);
    const ramp = this.ramp;
    if (ramp !== undefined) {
      if (now < ramp.until) {
        costA /= Math.max(ramp.weight(a, now), MIN_WEIGHT);
        costB /= Math.max(ramp.weight(b, now), MIN_WEIGHT);
      } else {
        this.ramp = undefined;
      }
    }
    // On a tie (both unknown, or both decayed to nothing) the less busy one.
    if (costA === costB) return b.inFlight < a.inFlight ? b : a;
    return costB < costA ? b : a;
  }

  /** Feeds the call's latency into the endpoint's estimate (failures count as at least `failureRttMs`). */
  onDone(endpoint: E, result: CallResult): void {
    const estimate = this.byEndpoint.get(endpoint);
    if (!estimate) return;
    // A call the caller cancelled says nothing about the endpoint.
    if (result.code === Code.Canceled) return;
    const rtt = result.ok ? result.latencyMs : Math.max(result.latencyMs, this.config.failureRttMs);
    estimate.observe(rtt, this.clock.now());
  }
}
