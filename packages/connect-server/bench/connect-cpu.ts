/**
 * Server CPU per call for unary calls over gRPC and over the Connect
 * protocol (binary and JSON), side by side in one run: a server child
 * (connect-cpu.child.ts) per row, connect-es clients in this process
 * keeping `--concurrency` calls in flight (default 64) over one HTTP/2
 * connection, and the server's own CPU time (process.cpuUsage) divided by
 * the calls it completed in the measured window.
 *
 *   node --import tsx bench/connect-cpu.ts [--seconds 4] [--concurrency 64] [--rounds 2]
 */
import { fork } from "node:child_process";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { RngService } from "@rngbalance/proto";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "4" },
    concurrency: { type: "string", default: "64" },
    rounds: { type: "string", default: "2" },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);

type Row = {
  name: string;
  server: "fast" | "slow";
  transport: (url: string, sm: Http2SessionManager) => Transport;
};
const ROWS: Row[] = [
  {
    name: "gRPC (fast path)",
    server: "fast",
    transport: (baseUrl, sessionManager) => createGrpcTransport({ baseUrl, sessionManager }),
  },
  {
    name: "Connect binary (fast path)",
    server: "fast",
    transport: (baseUrl, sessionManager) =>
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager }),
  },
  {
    name: "Connect JSON (fast path)",
    server: "fast",
    transport: (baseUrl, sessionManager) =>
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false, sessionManager }),
  },
  {
    name: "Connect binary (connect-node, fast path off)",
    server: "slow",
    transport: (baseUrl, sessionManager) =>
      createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, sessionManager }),
  },
];

async function measure(row: Row): Promise<{ calls: number; cpuUs: number; served: unknown }> {
  const child = fork(new URL("./connect-cpu.child.ts", import.meta.url), [row.server], {
    execArgv: ["--import", "tsx"],
  });
  try {
    const [{ port }] = (await once(child, "message")) as [{ port: number }];
    const baseUrl = `http://127.0.0.1:${port}`;
    const sessionManager = new Http2SessionManager(baseUrl);
    const client = createClient(RngService, row.transport(baseUrl, sessionManager));
    let counting = false;
    let calls = 0;
    let stop = false;
    const loop = async () => {
      while (!stop) {
        await client.generate({});
        if (counting) calls++;
      }
    };
    const loops = Array.from({ length: concurrency }, loop);
    await new Promise((r) => setTimeout(r, 1500)); // warm-up
    child.send("start");
    counting = true;
    await new Promise((r) => setTimeout(r, seconds * 1000));
    counting = false;
    const reply = once(child, "message");
    child.send("stop");
    const [{ cpuUs, stats }] = (await reply) as [{ cpuUs: number; stats: unknown }];
    stop = true;
    await Promise.all(loops);
    sessionManager.abort();
    return { calls, cpuUs, served: stats };
  } finally {
    child.send("exit");
  }
}

const results = new Map<string, { calls: number; cpuUs: number }[]>();
for (let round = 0; round < Number(values.rounds); round++) {
  for (const row of ROWS) {
    const r = await measure(row);
    results.set(row.name, [...(results.get(row.name) ?? []), r]);
    console.error(
      `round ${round + 1} ${row.name}: ${r.calls} calls, ${(r.cpuUs / r.calls).toFixed(1)} µs/call`,
      r.served,
    );
  }
}
const perCall = (name: string) => {
  const rs = results.get(name) ?? [];
  return rs.reduce((s, r) => s + r.cpuUs, 0) / rs.reduce((s, r) => s + r.calls, 0);
};
const grpc = perCall(ROWS[0]!.name);
console.log(
  `| row (${concurrency} in flight, one HTTP/2 connection) | calls/s | server CPU/call | × gRPC fast path |`,
);
console.log("|---|---:|---:|---:|");
for (const row of ROWS) {
  const rs = results.get(row.name) ?? [];
  const rate = rs.reduce((s, r) => s + r.calls, 0) / (rs.length * seconds);
  console.log(
    `| ${row.name} | ${rate.toFixed(0)} | ${perCall(row.name).toFixed(1)} µs | ${(perCall(row.name) / grpc).toFixed(2)} |`,
  );
}
