/**
 * The `rng-server` program as real processes, for end-to-end tests, the demo
 * and the benchmark: one child process ({@link spawnRngServer}), or a
 * Kubernetes-like fleet on one machine ({@link startRngFleet}): pods on
 * loopback "pod IPs" (127.0.0.2, 127.0.0.3, ...) behind an
 * `@rngbalance/dns-test-server` playing kube-dns, whose records follow the
 * pods. {@link LocalFleet} runs such a fleet of any pod the caller spawns.
 *
 * The fixtures run `@rngbalance/rng-server`'s `main` entry
 * ({@link RNG_SERVER_MAIN}) unless given another entry that calls the same
 * program, such as the deployable app's `apps/server/dist/main.js`. They live
 * in a package of their own so that the server (and the apps/server image)
 * carries none of the test infrastructure they import.
 *
 * @packageDocumentation
 */
export { type FleetPod, LocalFleet, type LocalFleetOptions, type PodSpawner } from "./local-fleet.js";
export { type RngFleet, type RngFleetOptions, startRngFleet } from "./rng-fleet.js";
export { type RngPods, type SpawnRngPodsOptions, spawnRngPods } from "./rng-pods.js";
export {
  RNG_SERVER_MAIN,
  type RngServerProcess,
  type SpawnRngServerOptions,
  spawnRngServer,
} from "./rng-server-process.js";
