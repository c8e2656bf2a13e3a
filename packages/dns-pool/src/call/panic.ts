import { connectivityOf } from "../balancer/endpoint-helpers.js";
import type { PoolEndpoint } from "../connection/pool-endpoint.js";
import { ConnectivityState } from "../core/connectivity.js";

/** Envoy's `healthy_panic_threshold` default: panic below 50 % healthy. */
export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

/** How the endpoints stand against the panic threshold. */
export interface PanicCount {
  /** True while fewer than the threshold's share of the endpoints are healthy. */
  readonly panic: boolean;
  /** Endpoints a policy would pick from (READY, healthy, not ejected). */
  readonly healthy: number;
  /** Every endpoint of the pool (the share's denominator, as Envoy's hosts). */
  readonly total: number;
  /**
   * Endpoints with no connection and no failure yet (IDLE or CONNECTING),
   * or connected but still waiting for their first health answer: nothing
   * is known of them, so they are not counted as unhealthy.
   */
  readonly pending: number;
  /** In panic: the endpoints with a READY connection, healthy or not; else empty. */
  readonly usable: readonly PoolEndpoint[];
}

/**
 * Envoy's panic threshold: when fewer than `thresholdPercent` % of the
 * endpoints are healthy, and at least one connected endpoint is held back
 * only by its health (NOT_SERVING) or an outlier ejection, the picker
 * balances over every endpoint with a READY connection instead. Otherwise
 * the few healthy ones would take the whole fleet's load and fall over in
 * turn, or, with none left, every call would fail although most servers
 * answer. Endpoints without a connection stay out (nothing to send on).
 * Panic needs a known-unhealthy endpoint, and endpoints still making a
 * connection (IDLE or CONNECTING: no connection and no failure yet) or
 * waiting for their first health answer are not counted as unhealthy, so a
 * pool still starting (e.g. 1 NOT_SERVING, 9 CONNECTING or health PENDING)
 * is not in panic. `thresholdPercent` 0 disables it.
 */
export function countPanic<E extends PoolEndpoint>(all: readonly E[], thresholdPercent: number): PanicCount {
  let healthy = 0;
  let heldBack = 0;
  let pending = 0;
  for (const e of all) {
    if (e.state === ConnectivityState.READY) healthy++;
    else {
      const connectivity = connectivityOf(e);
      if (connectivity === ConnectivityState.READY) {
        // Connected, first health answer not in yet: nothing known either.
        if (e.health === "PENDING") pending++;
        else if (e.state === ConnectivityState.TRANSIENT_FAILURE) heldBack++;
      } else if (connectivity === ConnectivityState.IDLE || connectivity === ConnectivityState.CONNECTING) {
        pending++;
      }
    }
  }
  const total = all.length;
  const panic = thresholdPercent > 0 && heldBack > 0 && (healthy + pending) * 100 < thresholdPercent * total;
  return { panic, healthy, total, pending, usable: panic ? all.filter(connected) : [] };
}

function connected(e: PoolEndpoint): boolean {
  return connectivityOf(e) === ConnectivityState.READY;
}
