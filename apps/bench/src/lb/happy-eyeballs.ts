import { createClient } from "@connectrpc/connect";
import { createPoolTransport, registerResolver } from "@rngbalance/dns-pool";
import { FakeResolver } from "@rngbalance/dns-pool/testing";
import { dropPackets, type PacketDrop, probeFaultSupport } from "@rngbalance/fault-injection";
import { Rng } from "@rngbalance/proto";
import { spawnRngServer } from "@rngbalance/rng-fleet";

/** Settings of the Happy Eyeballs scenario. */
export interface HappyEyeballsSettings {
  /** First calls timed per setting (a fresh pool each). */
  readonly runs: number;
  /** The pools' connectTimeoutMs: what a blackholed address costs without the stagger. */
  readonly connectTimeoutMs: number;
}

/** First-call times (ms) per connectionAttemptDelayMs, or why the scenario could not run. */
export type HappyEyeballsResult =
  | { readonly ok: true; readonly byDelay: ReadonlyMap<number, number[]>; readonly connectTimeoutMs: number }
  | { readonly ok: false; readonly reason: string };

/** Addresses the resolver hands out: one per pool, so every run starts cold. */
const resolvers = new Map<string, FakeResolver>();
registerResolver("bench-eyeballs", { create: (t) => resolvers.get(t.endpoint) as FakeResolver });

/**
 * A pick_first pool's first call when the first two IPv4 addresses are
 * blackholed (nftables drops their SYNs) and an rng-server listens on ::1:
 * the resolver's order is 127.0.8.8, 127.0.8.9, [::1], which RFC 8305
 * interleaving turns into 127.0.8.8, [::1], 127.0.8.9. With the 250 ms
 * stagger ::1 answers about 250 ms in; without it (0) the first address
 * costs the whole connect timeout. Needs root and nft.
 */
export async function happyEyeballs(s: HappyEyeballsSettings): Promise<HappyEyeballsResult> {
  const support = probeFaultSupport();
  if (!support.ok) return { ok: false, reason: support.reason };
  const server = await spawnRngServer({ host: "::1" });
  const blackholed = ["127.0.8.8", "127.0.8.9"];
  const drops: PacketDrop[] = [];
  const byDelay = new Map<number, number[]>();
  try {
    for (const host of blackholed) drops.push(await dropPackets({ host, port: server.port }));
    for (const delay of [250, 0]) {
      const times: number[] = [];
      for (let i = 0; i < s.runs; i++) {
        const name = `run-${delay}-${i}`;
        const resolver = new FakeResolver();
        resolver.push([...blackholed.map((h) => `${h}:${server.port}`), { host: "::1", port: server.port }]);
        resolvers.set(name, resolver);
        const pool = createPoolTransport({
          target: `bench-eyeballs:${name}`,
          authority: `localhost:${server.port}`,
          policy: "pick_first",
          pickFirst: { connectionAttemptDelayMs: delay },
          connectTimeoutMs: s.connectTimeoutMs,
        });
        try {
          const started = performance.now();
          await createClient(Rng, pool).rng({}, { timeoutMs: s.connectTimeoutMs * 3 });
          times.push(performance.now() - started);
        } finally {
          await pool.close();
          resolvers.delete(name);
        }
      }
      byDelay.set(delay, times);
    }
  } finally {
    await Promise.all(drops.map((d) => d.remove()));
    await server.stop();
  }
  return { ok: true, byDelay, connectTimeoutMs: s.connectTimeoutMs };
}

/** The scenario's table. */
export function happyEyeballsTable(r: HappyEyeballsResult): string {
  if (!r.ok) return `skipped: ${r.reason}`;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  return [
    "| pickFirst.connectionAttemptDelayMs | first call, median | min | max | runs |",
    "| ---: | ---: | ---: | ---: | ---: |",
    ...[...r.byDelay].map(
      ([delay, t]) =>
        `| ${delay === 0 ? `0 (no stagger; connectTimeoutMs ${r.connectTimeoutMs})` : delay} | ${median(t).toFixed(0)} ms | ${Math.min(...t).toFixed(0)} ms | ${Math.max(...t).toFixed(0)} ms | ${t.length} |`,
    ),
  ].join("\n");
}
