/**
 * Test doubles for code built on @rngbalance/dns-pool, and for its own unit
 * tests: a fake clock, fake endpoints and a fake resolver, so pickers,
 * policies and resolver decorators can be tested without processes,
 * sockets or real time. Import from `@rngbalance/dns-pool/testing`.
 *
 * @packageDocumentation
 */
import type { Picker } from "../balancer/picker.js";
import type { EndpointInfo, LoadBalancingPolicy } from "../balancer/policy.js";
import { ConnectivityState } from "../core/connectivity.js";

export { FakeClock, type FakeClockOptions, flushMicrotasks } from "./fake-clock.js";
export { FakeConnection, FakeDialer, FakeStream } from "./fake-connection.js";
export { FakeEndpoint, fakeEndpoints, zonedEndpoints } from "./fake-endpoint.js";
export { FakeResolver } from "./fake-resolver.js";

/** The picker `policy` builds for `endpoints`, as the pool calls it (READY ones, then all). */
export function buildPicker<E extends EndpointInfo>(
  policy: LoadBalancingPolicy<E>,
  endpoints: readonly E[],
): Picker<E> {
  return policy.buildPicker(
    endpoints.filter((e) => e.state === ConnectivityState.READY),
    endpoints,
  );
}

/** `n` picks from `picker`, as addresses ("-" for none). */
export function pickAddresses(picker: Picker<EndpointInfo>, n: number): string[] {
  return Array.from({ length: n }, () => picker.pick()?.address ?? "-");
}

/** Each address's share of `n` picks from `picker` ("-" for no pick), from 0 to 1. */
export function pickShares(picker: Picker<EndpointInfo>, n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const a of pickAddresses(picker, n)) counts.set(a, (counts.get(a) ?? 0) + 1);
  return new Map([...counts].map(([a, c]) => [a, c / n]));
}

/**
 * The pool's telemetry, for measuring what it costs per call outside a
 * pool (the bench's telemetry microbenchmark) and for tests of
 * instrumentation built on it. Pools make their own; see the `telemetry` option.
 */
export { PoolTelemetry } from "../telemetry/pool-telemetry.js";
