/**
 * A Kubernetes-like fleet on one machine, for tests, the demo and the
 * benchmark: an embedded DNS server playing kube-dns, and a fleet of server
 * processes on loopback "pod IPs" (`@rngbalance/rng-server/testing` starts its pods).
 *
 * @packageDocumentation
 */

/** Re-exported from @rngbalance/testkit, where it lives now. */
export { freePort } from "@rngbalance/testkit";
export * from "./dns-server.js";
export * from "./fleet.js";
