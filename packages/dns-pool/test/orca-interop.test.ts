import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { ConnectivityState, createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { type RN, RNSchema, SourceSchema } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { countBy, freePort, GRPC_JS_RNG, startLoad, until } from "./support.js";

// gRFC A51/A58 interop with @grpc/grpc-js 1.14.7, both ways:
// - our weighted_round_robin over grpc-js servers that record per-call
//   metrics (`grpc.server_call_metric_recording` + call.getMetricsRecorder());
// - grpc-js's own weighted_round_robin, configured from a plain service
//   config (no xDS), over rng-server pods that send ORCA reports (--orca always).

const RNG = GRPC_JS_RNG.Rng;

/** A grpc-js Rng server that reports a fixed load with every call. */
async function grpcJsServer(
  host: string,
  port: number,
  rn: bigint,
  utilization: number,
): Promise<grpc.Server> {
  const server = new grpc.Server({ "grpc.server_call_metric_recording": 1 });
  server.addService(GRPC_JS_RNG, {
    Rng: (call: grpc.ServerUnaryCall<unknown, RN>, callback: grpc.sendUnaryData<RN>) => {
      const metrics = call.getMetricsRecorder();
      metrics.recordQpsMetric(100);
      metrics.recordCPUUtilizationMetric(utilization);
      callback(null, create(RNSchema, { RN: rn }));
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return server;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ORCA interop with @grpc/grpc-js", () => {
  const grpcServers: grpc.Server[] = [];
  const rngServers: RngServerProcess[] = [];
  const pools: PoolTransport[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(grpcServers.map((s) => new Promise((r) => s.tryShutdown(r))));
    await Promise.all(rngServers.map((s) => s.stop()));
  });

  it("our weighted_round_robin weighs grpc-js servers by the load they record per call", async () => {
    const port = await freePort();
    const hosts = ["127.0.0.20", "127.0.0.21", "127.0.0.22"];
    // Same qps, cpu 0.2, 0.2 and 0.8: weights 500, 500 and 125 (A58: qps / utilization).
    const utilization = [0.2, 0.2, 0.8];
    for (const [i, h] of hosts.entries()) {
      grpcServers.push(await grpcJsServer(h, port, BigInt(i), utilization[i]!));
    }
    const pool = createPoolTransport({
      target: `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`,
      connect: "eager",
      policy: "weighted_round_robin",
      weightedRoundRobin: { blackoutPeriodMs: 0, weightUpdatePeriodMs: 100 },
      healthCheck: false,
    });
    pools.push(pool);
    await until(
      () => pool.stats().endpoints.every((e) => e.state === ConnectivityState.READY),
      10_000,
      "READY",
    );
    const load = startLoad(pool, { concurrency: 4, ratePerSecond: 400 });
    await sleep(1000);
    const t0 = Date.now();
    await sleep(1500);
    await load.stop();
    const counts = countBy(load.answers.filter((a) => a.at >= t0).map((a) => a.rn));
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    const loadedShare = (counts.get(2n) ?? 0) / total;
    // Exactly 125 / 1125 = 11 % once weighted; round robin would give 33 %.
    // The upper bound leaves room for a loaded machine (CI saw 18.75 % while
    // other suites ran: the weights settle later) and still fails round robin.
    assert.ok(loadedShare > 0.05 && loadedShare < 0.23, `loaded grpc-js server: ${loadedShare}`);
    assert.equal(load.failures.length, 0);
  });

  it("grpc-js's weighted_round_robin (plain service config) weighs rng-server pods by their ORCA reports", async () => {
    const port = await freePort();
    const hosts = ["127.0.0.23", "127.0.0.24", "127.0.0.25"];
    const orca = ["--orca", "always", "--orca-interval-ms", "200"];
    const pods = await Promise.all([
      spawnRngServer({ host: hosts[0], port, args: orca }),
      spawnRngServer({ host: hosts[1], port, args: orca }),
      spawnRngServer({ host: hosts[2], port, args: [...orca, "--fault", "cpu:4ms"] }),
    ]);
    rngServers.push(...pods);
    // grpc-js registers weighted_round_robin as an ordinary LB policy: a
    // service config selects it without xDS. It weighs by
    // application_utilization only (not cpu_utilization), which rng-server
    // reports as its event loop's utilization.
    const serviceConfig = {
      loadBalancingConfig: [
        { weighted_round_robin: { blackout_period: "0.5s", weight_update_period: "0.2s" } },
      ],
    };
    const client = new grpc.Client(
      `ipv4:${hosts.map((h) => `${h}:${port}`).join(",")}`,
      grpc.credentials.createInsecure(),
      {
        "grpc.service_config": JSON.stringify(serviceConfig),
      },
    );
    const call = () =>
      new Promise<bigint>((resolve, reject) =>
        client.makeUnaryRequest(
          RNG.path,
          RNG.requestSerialize,
          RNG.responseDeserialize,
          create(SourceSchema),
          (err, res) => (err ? reject(err) : resolve((res as RN).RN)),
        ),
      );
    try {
      const answers: { at: number; rn: bigint }[] = [];
      const until = Date.now() + 4000;
      const worker = async () => {
        while (Date.now() < until) answers.push({ rn: await call(), at: Date.now() });
      };
      await Promise.all(Array.from({ length: 6 }, worker));
      const late = answers.filter((a) => a.at >= until - 1500);
      const loadedShare = late.filter((a) => a.rn === pods[2]!.rn).length / late.length;
      assert.ok(late.length > 50, `enough calls: ${late.length}`);
      assert.ok(loadedShare < 0.2, `grpc-js sends the CPU-loaded pod less than its third: ${loadedShare}`);
      // Not pick_first (what grpc-js falls back to if it rejected the config): both healthy pods
      // serve. Not an even split of the rest either: a healthy pod's event loop is nearly idle, so
      // its reported utilization (and with it its weight, qps / utilization) is noisy; seen
      // 0.25 / 0.6 between the two when the machine was busy.
      for (const pod of pods.slice(0, 2)) {
        const s = late.filter((a) => a.rn === pod.rn).length / late.length;
        assert.ok(s > 0.15, `a healthy pod's share: ${s}`);
      }
    } finally {
      client.close();
    }
  });
});
