import { ConnectivityState } from "../core/connectivity.js";

/** What besides the endpoints' states decides the pool's state. */
export interface AggregateContext {
  /** The last resolution failed (and none has succeeded since). */
  readonly resolutionFailed: boolean;
  /** The pool has had its first call (or connects eagerly), so it keeps connections open. */
  readonly active: boolean;
  /** At least one resolution has arrived. */
  readonly resolvedOnce: boolean;
}

/**
 * The pool's overall connectivity from its endpoints' states, with gRPC's
 * rules: READY if any endpoint is READY, else CONNECTING if any is
 * connecting, TRANSIENT_FAILURE when all are failing (or there are no
 * addresses and resolution fails); otherwise CONNECTING while active and
 * IDLE while lazy.
 */
export function aggregateState(
  states: readonly ConnectivityState[],
  context: AggregateContext,
): ConnectivityState {
  let ready = false;
  let connecting = false;
  let allFailing = states.length > 0;
  for (const s of states) {
    if (s === ConnectivityState.READY) ready = true;
    else if (s === ConnectivityState.CONNECTING) connecting = true;
    if (s !== ConnectivityState.TRANSIENT_FAILURE) allFailing = false;
  }
  if (ready) return ConnectivityState.READY;
  if (connecting) return ConnectivityState.CONNECTING;
  if (states.length === 0) {
    if (context.resolutionFailed) return ConnectivityState.TRANSIENT_FAILURE;
    return context.active || !context.resolvedOnce ? ConnectivityState.CONNECTING : ConnectivityState.IDLE;
  }
  if (allFailing) return ConnectivityState.TRANSIENT_FAILURE;
  return context.active ? ConnectivityState.CONNECTING : ConnectivityState.IDLE;
}
