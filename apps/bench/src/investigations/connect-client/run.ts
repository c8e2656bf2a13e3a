/**
 * An investigation, not a table: what the pool's client costs per unary
 * call over gRPC, Connect binary and Connect JSON (issue #24's client
 * targets), and over Connect through connect-node (`fastPath: false`), with
 * the server out of the way. One floor server process
 * (floor-server.child.ts) answers with fixed bytes; each cell is a fresh
 * client process (client.child.ts) at 64 calls in flight; the wires
 * are interleaved, their order reversed every other repeat, and the report
 * gives each wire's median CPU per call and calls/s and their ratios to
 * gRPC's.
 *
 *   node apps/bench/dist/investigations/connect-client/run.js [--repeats 3] [--duration-ms 4000] [--in-flight 64]
 *
 * Against rng-server instead, the client table has the pool-rr, pool-connect and pool-connect-json clients
 * (`--tables clients --clients pool-rr,pool-connect,pool-connect-json`),
 * where the server's own cost per protocol also shapes the client's.
 */
import { parseArgs } from "node:util";
import { childPath, runChild, startChild } from "../../harness/child.js";
import type { ConnectClientArgs, ConnectClientResult, Wire } from "./client.child.js";

const { values } = parseArgs({
  options: {
    repeats: { type: "string", default: "3" },
    "duration-ms": { type: "string", default: "4000" },
    "in-flight": { type: "string", default: "64" },
  },
});
const repeats = Number(values.repeats);
const durationMs = Number(values["duration-ms"]);
const inFlight = Number(values["in-flight"]);
for (const [name, v] of [
  ["--repeats", repeats],
  ["--duration-ms", durationMs],
  ["--in-flight", inFlight],
] as const) {
  if (!Number.isInteger(v) || v < 1) {
    process.stderr.write(`${name} must be a positive integer, got ${JSON.stringify(values)}\n`);
    process.exit(2);
  }
}

const WIRES: readonly Wire[] = ["grpc", "connect", "connect-json", "connect-node"];
const server = await startChild<{ address: string }>(childPath(import.meta.url, "floor-server.child.js"), {
  host: "127.0.0.2",
  port: 0,
});
const results = new Map<Wire, ConnectClientResult[]>(WIRES.map((w) => [w, []]));
try {
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const wire of repeat % 2 === 0 ? WIRES : [...WIRES].reverse()) {
      const args: ConnectClientArgs = {
        address: server.first.address,
        wire,
        inFlight,
        warmupMs: 1000,
        durationMs,
      };
      const { value } = await runChild<ConnectClientResult>(
        childPath(import.meta.url, "client.child.js"),
        args,
      );
      results.get(wire)?.push(value);
      process.stderr.write(
        `repeat ${repeat + 1} ${wire.padEnd(12)} ${value.callsPerSecond.toFixed(0)} calls/s, ${value.cpuUsPerCall.toFixed(1)} CPU µs/call\n`,
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
const lines = [
  `## Pool client CPU per call: gRPC vs Connect (${inFlight} in flight, floor server, medians of ${repeats})`,
  "",
  "| wire | client CPU µs/call | × gRPC | calls/s | × gRPC |",
  "|---|---:|---:|---:|---:|",
  ...WIRES.map(
    (w) =>
      `| ${w} | ${cpu(w).toFixed(1)} | ${(cpu(w) / cpu("grpc")).toFixed(2)} | ${rate(w).toFixed(0)} | ${(rate(w) / rate("grpc")).toFixed(2)} |`,
  ),
  "",
];
process.stdout.write(lines.join("\n"));
