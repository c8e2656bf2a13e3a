import { hostname } from "node:os";
import type { ClientPosition } from "./subsetter.js";

/**
 * This process's identity for subsetting: `<host name>/<pid>`. In Kubernetes
 * the host name is the pod name, unique among live pods (the pid, usually 1
 * in a container, separates processes sharing a host). A Deployment's pod
 * gets a new name, hence a new subset, when it is replaced; a StatefulSet's
 * keeps its name across restarts.
 */
export function defaultClientId(): string {
  return `${hostname()}/${process.pid}`;
}

/**
 * The ordinal of a StatefulSet pod: `statefulSetOrdinal("rng-client-3",
 * "rng-client")` is 3; `undefined` when the pod name is not
 * `<statefulSetName>-<n>`. The set's name is required because a Deployment
 * pod's random suffix can be all digits ("rng-client-6d4cf56db-24579").
 * Kubernetes 1.28+ also labels the pod with `apps.kubernetes.io/pod-index`,
 * which the downward API can pass in an environment variable.
 */
export function statefulSetOrdinal(podName: string, statefulSetName: string): number | undefined {
  const prefix = `${statefulSetName}-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  if (!/^(0|[1-9]\d{0,8})$/.test(rest)) return undefined;
  return Number(rest);
}

/**
 * This client's rank among its peers: the position of `self` in the sorted,
 * de-duplicated `peers` (which should include it), and their number. For
 * clients that can list each other, e.g. by resolving their own headless
 * service and using their pod IP as `self`. `undefined` when `self` is not
 * among `peers` (yet): fall back to a hash-based subsetter then.
 *
 * When a peer joins or leaves, the ranks after it shift by one, so such
 * clients' positions move a little; see docs/subsetting.md for the churn.
 */
export function rankAmongPeers(self: string, peers: readonly string[]): ClientPosition | undefined {
  const sorted = [...new Set(peers)].sort();
  const clientIndex = sorted.indexOf(self);
  return clientIndex < 0 ? undefined : { clientIndex, clientCount: sorted.length };
}
