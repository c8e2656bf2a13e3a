import { ConnectivityState, type PoolTransport } from "@rngbalance/dns-pool";

/** Resolves once `pool` has `expected` READY endpoints; rejects after `timeoutMs`, naming every endpoint's state. */
export async function poolReady(pool: PoolTransport, expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = pool.stats();
    const ready = stats.endpoints.filter((e) => e.state === ConnectivityState.READY).length;
    if (ready >= expected) return;
    if (Date.now() > deadline) {
      throw new Error(`pool not ready within ${timeoutMs} ms: ${JSON.stringify(stats.endpoints)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
