import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { childPath, runChild, startChild } from "../../harness/child.js";
import type { BenchConfig } from "../../harness/config.js";
import { progress } from "../../harness/progress.js";
import type { ConnectClientArgs, ConnectClientResult, Wire } from "./client.child.js";

const WIRES: readonly Wire[] = ["grpc", "connect", "connect-json", "connect-node"];

/**
 * An investigation, not a table (`pnpm bench --connect-client`): what the
 * pool's client costs per unary call over gRPC, Connect binary and Connect
 * JSON (issue #24's client targets), and over Connect through connect-node
 * (`fastPath: false`), with the server out of the way. One floor server
 * process (floor-server.child.ts) answers with fixed bytes; each cell is a
 * fresh client process (client.child.ts) at the last `--concurrency` (64 by
 * default); the wires are interleaved, their order reversed every other
 * repeat, and the report gives each wire's median CPU per call and calls/s
 * and their ratios to gRPC's. Writes connect-client.md.
 *
 * Against rng-server instead, the client table has the pool-rr,
 * pool-connect and pool-connect-json clients, where the server's cost per
 * protocol also shapes the client's.
 */
export async function runConnectClient(config: BenchConfig): Promise<number> {
  const inFlight = config.concurrencies[config.concurrencies.length - 1] ?? 64;
  const durationMs = Math.max(config.durationMs, 3000);
  const server = await startChild<{ address: string }>(childPath(import.meta.url, "floor-server.child.js"), {
    host: "127.0.0.2",
    port: 0,
  });
  const results = new Map<Wire, ConnectClientResult[]>(WIRES.map((w) => [w, []]));
  try {
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      for (const wire of repeat % 2 === 0 ? WIRES : [...WIRES].reverse()) {
        const args: ConnectClientArgs = {
          address: server.first.address,
          wire,
          inFlight,
          warmupMs: Math.max(config.warmupMs, 1000),
          durationMs,
        };
        const { value } = await runChild<ConnectClientResult>(
          childPath(import.meta.url, "client.child.js"),
          args,
        );
        results.get(wire)?.push(value);
        progress(
          `repeat ${repeat + 1} ${wire.padEnd(12)} ${value.callsPerSecond.toFixed(0)} calls/s, ${value.cpuUsPerCall.toFixed(1)} CPU µs/call`,
        );
      }
    }
  } finally {
    await server.stop();
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] ?? Number.NaN;
  };
  const cpu = (w: Wire) => median((results.get(w) ?? []).map((r) => r.cpuUsPerCall));
  const rate = (w: Wire) => median((results.get(w) ?? []).map((r) => r.callsPerSecond));
  const markdown = [
    `## Pool client CPU per call: gRPC vs Connect (${inFlight} in flight, floor server, medians of ${config.repeats})`,
    "",
    "| wire | client CPU µs/call | × gRPC | calls/s | × gRPC |",
    "|---|---:|---:|---:|---:|",
    ...WIRES.map(
      (w) =>
        `| ${w} | ${cpu(w).toFixed(1)} | ${(cpu(w) / cpu("grpc")).toFixed(2)} | ${rate(w).toFixed(0)} | ${(rate(w) / rate("grpc")).toFixed(2)} |`,
    ),
    "",
  ].join("\n");
  mkdirSync(config.outDir, { recursive: true });
  writeFileSync(path.join(config.outDir, "connect-client.md"), markdown);
  process.stdout.write(markdown);
  progress(`wrote connect-client.md in ${config.outDir}`);
  return 0;
}
