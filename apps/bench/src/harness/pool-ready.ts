import { ConnectivityState, type PoolTransport } from "@rngbalance/dns-pool";

type PoolStats = ReturnType<PoolTransport["stats"]>;

/**
 * Resolves once `predicate` holds for `pool.stats()` (polled every 10 ms);
 * rejects after `timeoutMs` with `what` and every endpoint's stats.
 */
export async function waitForStats(
  pool: PoolTransport,
  predicate: (stats: PoolStats) => boolean,
  timeoutMs: number,
  what = "pool not ready",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = pool.stats();
    if (predicate(stats)) return;
    if (Date.now() > deadline) {
      throw new Error(`${what} within ${timeoutMs} ms: ${JSON.stringify(stats.endpoints)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves once `pool` has `expected` READY endpoints; rejects after `timeoutMs`, naming every endpoint's state. */
export function poolReady(pool: PoolTransport, expected: number, timeoutMs: number): Promise<void> {
  return waitForStats(
    pool,
    (s) => s.endpoints.filter((e) => e.state === ConnectivityState.READY).length >= expected,
    timeoutMs,
  );
}
