/**
 * The server side of bench/connect-cpu.ts: an h2c server on this package's
 * handler (fast path on or off) serving rng.v1.RngService, which reports its
 * own CPU time between "start" and "stop" messages from the parent.
 */
import type { AddressInfo } from "node:net";
import { RngService } from "@rngbalance/proto";
import { createConnectHandler } from "../src/connect-handler.js";
import { createHttp2Server } from "../src/fast/http2-server.js";

const fastPath = process.argv[2] !== "slow";
const handler = createConnectHandler({
  json: { readMaxBytes: 1 << 20, maxDepth: 64 },
  telemetry: false,
  fastPath,
  routes(router) {
    let n = 0n;
    router.service(RngService, {
      generate: () => ({ rn: ++n, instance: "bench" }),
      async *generateStream() {},
    });
  },
});
const server = createHttp2Server({}, handler);
server.listen(0, "127.0.0.1", () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
let started = process.cpuUsage();
process.on("message", (m: string) => {
  if (m === "start") started = process.cpuUsage();
  else if (m === "stop") {
    const used = process.cpuUsage(started);
    process.send?.({ cpuUs: used.user + used.system, stats: handler.grpcUnaryFastPath?.stats });
  } else if (m === "exit") process.exit(0);
});
