/**
 * A client of the connect-client investigation: one pool speaking gRPC,
 * Connect binary or Connect JSON to the floor server (see {@link Wire}), closed loop at `inFlight` calls, and its own CPU time per call
 * over the measured window (after a warm-up).
 */
import { performance } from "node:perf_hooks";
import { createClient } from "@connectrpc/connect";
import { createPoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { childArgs, reportResult } from "../../harness/child.js";

/**
 * How the pool calls the floor server: gRPC, Connect binary, Connect JSON
 * (each on its fast path), or Connect binary through connect-node
 * (`fastPath: false`), what the Connect fast path saves.
 */
export type Wire = "grpc" | "connect" | "connect-json" | "connect-node";

/** What the parent asks for. */
export interface ConnectClientArgs {
  readonly address: string;
  readonly wire: Wire;
  readonly inFlight: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** What the child reports. */
export interface ConnectClientResult {
  readonly wire: Wire;
  readonly calls: number;
  readonly callsPerSecond: number;
  /** User + system CPU of this process per call, in the measured window. */
  readonly cpuUsPerCall: number;
}

const args = childArgs<ConnectClientArgs>({
  address: "string",
  wire: "string",
  inFlight: "number",
  warmupMs: "number",
  durationMs: "number",
});

async function measure(a: ConnectClientArgs): Promise<ConnectClientResult> {
  const pool = createPoolTransport({
    target: `ipv4:${a.address}`,
    protocol: a.wire === "grpc" ? "grpc" : "connect",
    ...(a.wire === "connect-json" ? { useBinaryFormat: false } : {}),
    ...(a.wire === "connect-node" ? { fastPath: false } : {}),
    healthCheck: false,
    connect: "eager",
  });
  const client = createClient(Rng, pool);
  const loop = async (ms: number) => {
    const end = performance.now() + ms;
    let calls = 0;
    await Promise.all(
      Array.from({ length: a.inFlight }, async () => {
        while (performance.now() < end) {
          await client.rng({});
          calls++;
        }
      }),
    );
    return calls;
  };
  try {
    await loop(a.warmupMs);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const calls = await loop(a.durationMs);
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    return {
      wire: a.wire,
      calls,
      callsPerSecond: calls / seconds,
      cpuUsPerCall: (cpu.user + cpu.system) / calls,
    };
  } finally {
    await pool.close();
  }
}

reportResult(measure(args));
