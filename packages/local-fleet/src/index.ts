/**
 * A Kubernetes-like fleet on one machine, for tests, the demo and the
 * benchmark: an embedded DNS server playing kube-dns and `rng-server`
 * processes on loopback "pod IPs".
 *
 * @packageDocumentation
 */
export * from "./dns-server.js";
export * from "./fleet.js";
export * from "./free-port.js";
