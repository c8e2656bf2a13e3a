#!/usr/bin/env node
/**
 * Microbenchmarks, each run in a fresh process:
 *
 * - `node micro.js pick '<PickConfig>'`: ns per pick of the pool's real
 *   `RoundRobinPicker` / `LeastRequestPicker` over 3, 100, 1000 endpoints, if
 *   `@rngbalance/dns-pool` exports them; otherwise µs per call through
 *   `createPoolTransport` (ipv4: target of that many listening endpoints,
 *   connect "lazy"), whose change with the endpoint count bounds the pick cost.
 * - `node --expose-gc micro.js memory '<MemoryConfig>'`: heap, external and
 *   RSS growth per idle READY endpoint of a pool over N listening endpoints.
 */
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import * as dnsPool from "@rngbalance/dns-pool";
import { ConnectivityState, createPoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { reportJsonResult } from "./child.js";
import {
  type LeastRequestPickerClass,
  type PickConfig,
  type PickerClass,
  type PickResult,
  type PickRow,
  realPickers,
} from "./pick.js";

export interface MemoryConfig {
  readonly addresses: readonly string[];
  readonly healthCheck: boolean;
}

export interface MemoryResult {
  readonly endpoints: number;
  readonly healthCheck: boolean;
  readonly heapBytesPerEndpoint: number;
  readonly externalBytesPerEndpoint: number;
  readonly rssBytesPerEndpoint: number;
  readonly readyMs: number;
}

async function pickBench(config: PickConfig): Promise<PickResult> {
  const exported = dnsPool as unknown as Record<string, unknown>;
  const rr = exported.RoundRobinPicker as PickerClass | undefined;
  const lr = exported.LeastRequestPicker as LeastRequestPickerClass | undefined;
  if (typeof rr === "function" && typeof lr === "function") return realPickers(config, rr, lr);
  return throughTransport(config);
}

async function throughTransport(config: PickConfig): Promise<PickResult> {
  const rows: PickRow[] = [];
  for (const policy of ["round_robin", "least_request"] as const) {
    for (const n of config.sizes) {
      const pool = createPoolTransport({
        target: `ipv4:${config.addresses.slice(0, n).join(",")}`,
        policy,
        connect: "lazy",
        healthCheck: false,
      });
      const client = createClient(Rng, pool);
      await client.rng({}); // activates the pool: every endpoint connects
      await waitReady(pool, n, 20_000);
      const timed = async (ms: number) => {
        let calls = 0;
        const t0 = performance.now();
        while (performance.now() - t0 < ms) {
          await client.rng({});
          calls++;
        }
        return ((performance.now() - t0) * 1000) / calls;
      };
      await timed(config.callMs / 3);
      rows.push({ policy, endpoints: n, value: await timed(config.callMs) });
      await pool.close();
    }
  }
  return {
    method: "transport",
    unit: "µs/call",
    rows,
    note: "fallback: RoundRobinPicker / LeastRequestPicker are not exported by @rngbalance/dns-pool, so this is µs per sequential unary call through createPoolTransport (ipv4: target, connect lazy, every endpoint READY, health checks off) against one tiny h2c server; the pick is O(1) if the cost stays flat as endpoints grow",
  };
}

async function waitReady(pool: dnsPool.PoolTransport, n: number, timeoutMs: number, serving = false) {
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

const mode = process.argv[2];
const arg = JSON.parse(process.argv[3] ?? "{}") as unknown;
const work =
  mode === "pick"
    ? pickBench(arg as PickConfig)
    : mode === "memory"
      ? memoryBench(arg as MemoryConfig)
      : Promise.reject(new Error(`unknown mode ${mode}`));
reportJsonResult(work);
