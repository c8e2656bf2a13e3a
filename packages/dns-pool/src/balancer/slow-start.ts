import type { Clock } from "../core/clock.js";
import { ConnectivityState } from "../core/connectivity.js";

/**
 * Slow start, as Envoy's `slow_start_config`: an endpoint that joins a
 * pool already serving gets a share that grows over `windowMs` instead of a
 * full share at once, so a cold pod (empty caches, code not yet optimised
 * by the JIT, connection pools to its own backends still empty) is not hit
 * by a full share of the traffic in its first seconds.
 *
 * Its weight, a factor on its share, is
 * `max(minWeightPercent / 100, (timeSinceReady / windowMs) ^ (1 / aggression))`
 * until the window ends, then 1.
 */
export interface SlowStartOptions {
  /** How long the ramp lasts, in ms. Required (> 0); no default, as in Envoy. */
  windowMs: number;
  /**
   * The ramp's shape: 1 is linear; above 1 the share rises fast at first,
   * below 1 it stays low longer. Default 1 (> 0).
   */
  aggression?: number;
  /** The weight's floor in percent, so that a new endpoint gets some calls at once. Default 10 (0-100). */
  minWeightPercent?: number;
}

/** {@link SlowStartOptions} with every default filled in. */
export type ResolvedSlowStart = Required<SlowStartOptions>;

/**
 * The weights of the endpoints ramping now, for one picker. Pickers check
 * `until` first, so that once every ramp is over a pick costs nothing more.
 */
export interface SlowStartWeights<E> {
  /** When the last ramp in this snapshot ends (clock time, ms). */
  readonly until: number;
  /** The pool's clock's time. */
  now(): number;
  /** The weight of `endpoint` at `now`: from the floor up to 1; 1 for endpoints not ramping. */
  weight(endpoint: E, now: number): number;
}

/**
 * Tracks which endpoints are in slow start, for a policy: call `update()`
 * from `buildPicker` (every change of the READY set passes through it).
 *
 * When does an endpoint ramp? When it becomes READY while at least one
 * other endpoint was already READY in the previous picker:
 * - a pod added by a later resolution (a scale-up, a replaced pod), on its first READY;
 * - an endpoint coming back (reconnected after TRANSIENT_FAILURE, back from
 *   NOT_SERVING or from outlier ejection), as Envoy restarts the ramp when a
 *   host passes health checks again: it may have restarted cold.
 *
 * READY is the connection's state, not pickability: an endpoint that
 * liveness doubts for a moment (a busy event loop delays its reads) and
 * then trusts again has not restarted, so its ramp does not restart.
 *
 * Not for the endpoints of the pool's first resolution on their first
 * connection: at start-up nobody is warm, and ramping all but the first to
 * connect would pile the client's first calls onto that one endpoint (the
 * opposite of what slow start is for). Nor for an endpoint that becomes
 * READY when none is: it is the only place calls can go.
 */
export class SlowStart<E extends { readonly state: ConnectivityState }> {
  private readonly readySince = new WeakMap<E, number>();
  private readonly connectedOnce = new WeakSet<E>();
  private initial: WeakSet<E> | undefined;
  private wasReady = new Set<E>();

  /**
   * @param config - the window, aggression and floor.
   * @param clock - the pool's clock.
   */
  constructor(
    private readonly config: ResolvedSlowStart,
    private readonly clock: Clock,
  ) {}

  /**
   * Notes which of `all` (every endpoint of the pool) just became READY and
   * returns the weights of those still ramping, or undefined when none is
   * (the common case).
   */
  update(all: readonly E[]): SlowStartWeights<E> | undefined {
    const now = this.clock.now();
    if (this.initial === undefined && all.length > 0) this.initial = new WeakSet(all);
    const othersWereReady = this.wasReady.size > 0;
    const ready = all.filter((e) => e.state === ConnectivityState.READY);
    let until = 0;
    for (const e of ready) {
      if (!this.wasReady.has(e)) {
        const firstOfInitialSet = !this.connectedOnce.has(e) && this.initial?.has(e) === true;
        if (othersWereReady && !firstOfInitialSet) this.readySince.set(e, now);
        else this.readySince.delete(e);
        this.connectedOnce.add(e);
      }
      const since = this.readySince.get(e);
      if (since !== undefined) {
        if (now - since < this.config.windowMs) until = Math.max(until, since + this.config.windowMs);
        else this.readySince.delete(e);
      }
    }
    this.wasReady = new Set(ready);
    if (until === 0) return undefined;
    const clock = this.clock;
    return { until, now: () => clock.now(), weight: (endpoint, at) => this.weight(endpoint, at) };
  }

  /** The ramp factor of one endpoint at `now`. */
  weight(endpoint: E, now: number): number {
    const since = this.readySince.get(endpoint);
    if (since === undefined) return 1;
    return slowStartWeight(now - since, this.config);
  }
}

/**
 * Envoy's ramp: `max(minWeightPercent / 100, (elapsedMs / windowMs) ^ (1 / aggression))`,
 * 1 once the window is over.
 */
export function slowStartWeight(elapsedMs: number, config: ResolvedSlowStart): number {
  if (elapsedMs >= config.windowMs) return 1;
  const ramp = Math.max(0, elapsedMs / config.windowMs) ** (1 / config.aggression);
  return Math.max(config.minWeightPercent / 100, ramp);
}
