#!/usr/bin/env node
/**
 * `node --expose-gc memory.child.js '<MemoryConfig JSON>'`: heap, external
 * and RSS growth per idle READY endpoint of a pool over N listening
 * endpoints (the farm's), in a fresh process.
 */
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import { ConnectivityState, createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { childArgs, reportResult } from "../../harness/child.js";

/** What the memory child measures: a pool over these listening endpoints. */
export interface MemoryConfig {
  readonly addresses: readonly string[];
  readonly healthCheck: boolean;
}

/** Growth of the client process per idle READY endpoint, after GC. */
export interface MemoryResult {
  readonly endpoints: number;
  readonly healthCheck: boolean;
  readonly heapBytesPerEndpoint: number;
  readonly externalBytesPerEndpoint: number;
  readonly rssBytesPerEndpoint: number;
  readonly readyMs: number;
}

async function waitReady(pool: PoolTransport, n: number, timeoutMs: number, serving = false) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const eps = pool.stats().endpoints;
    const ready = eps.filter(
      (e) => e.state === ConnectivityState.READY && (!serving || e.health === "SERVING"),
    ).length;
    if (ready >= n) return;
    if (Date.now() > deadline)
      throw new Error(`only ${ready} of ${n} endpoints ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function memoryBench(config: MemoryConfig): Promise<MemoryResult> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with --expose-gc");
  const collect = async () => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
  };
  // Load and warm every code path first, so the delta is the endpoints' alone.
  const warm = createPoolTransport({
    target: `ipv4:${config.addresses[0]}`,
    connect: "eager",
    healthCheck: config.healthCheck ? { service: "" } : false,
  });
  await waitReady(warm, 1, 10_000, config.healthCheck);
  await createClient(Rng, warm).rng({});
  await warm.close();
  await collect();
  const before = process.memoryUsage();

  const n = config.addresses.length;
  const started = performance.now();
  const pool = createPoolTransport({
    target: `ipv4:${config.addresses.join(",")}`,
    connect: "eager",
    healthCheck: config.healthCheck ? { service: "" } : false,
  });
  await waitReady(pool, n, 60_000, config.healthCheck);
  const readyMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 300));
  await collect();
  const after = process.memoryUsage();
  const result: MemoryResult = {
    endpoints: n,
    healthCheck: config.healthCheck,
    heapBytesPerEndpoint: (after.heapUsed - before.heapUsed) / n,
    externalBytesPerEndpoint: (after.external - before.external) / n,
    rssBytesPerEndpoint: (after.rss - before.rss) / n,
    readyMs,
  };
  await pool.close();
  return result;
}

reportResult(memoryBench(childArgs<MemoryConfig>({ addresses: "array", healthCheck: "boolean" })));
