import type { ConnectivityState } from "../core/connectivity.js";
import type { EndpointInfo } from "./policy.js";

/**
 * True when `a` and `b` hold the same endpoints in the same order. Policies
 * that keep state per endpoint list (ring_hash's ring, pick_first's
 * shuffled order) compare by contents, not by array identity: a wrapper
 * such as the locality layer builds new arrays on every rebuild.
 */
export function sameEndpoints<E>(a: readonly E[] | undefined, b: readonly E[]): boolean {
  if (a === b) return true;
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The endpoint's connection state, or its balancer state when it has none of its own (hand-built endpoints). */
export function connectivityOf(e: EndpointInfo): ConnectivityState {
  return e.connectivity ?? e.state;
}
