#!/usr/bin/env node
/**
 * `node micro.child.js '{"mode":...,"calls":...,"rounds":...}'`: ns of telemetry work
 * per call, in-process, without the network: the sequence the pool's call
 * path runs (startCall, attemptStart, picked, attemptEnd, end) on a
 * PoolTelemetry, for mode "off" (`telemetry: false`), "api" (no SDK),
 * "metrics" (the SDK's MeterProvider) or "tracing" (a registered
 * TracerProvider). One mode per process: the providers are global.
 */
import { performance } from "node:perf_hooks";
import { PoolTelemetry } from "@rngbalance/dns-pool/testing";
import { childArgs, reportResult } from "../../harness/child.js";
import { installSdk, type TelemetryMode } from "../../harness/sdk.js";

/** What the parent asks for. */
export interface TelemetryMicroConfig {
  readonly mode: TelemetryMicroResult["mode"];
  /** Calls per timed round. */
  readonly calls: number;
  readonly rounds: number;
}

/** One mode's result. */
export interface TelemetryMicroResult {
  readonly mode: "off" | "api" | TelemetryMode;
  /** Median over rounds, ns per call. */
  readonly nsPerCall: number;
}

async function main({ mode, calls, rounds }: TelemetryMicroConfig): Promise<TelemetryMicroResult> {
  const stop = mode === "off" || mode === "api" ? undefined : await installSdk(mode);
  const sources = {
    endpoints: () => [],
    waiting: () => 0,
    removedCalls: () => 0,
    removedCallsByAddress: () => new Map<string, number>(),
    panic: () => ({ active: false, entered: 0 }),
    locality: () => undefined,
  };
  const telemetry = new PoolTelemetry("dns:///rng-headless:8081", mode === "off" ? false : {}, sources);
  const method = { parent: { typeName: "rng.Rng" }, name: "Rng" };
  const endpoint = { peerAttributes: { "server.address": "127.0.0.2", "server.port": 8081 } };
  const run = (n: number) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const call = telemetry.startCall(method);
      if (call === undefined) continue;
      call.attemptStart();
      call.picked(endpoint, undefined, false);
      call.rcvd = 10;
      call.attemptEnd(undefined);
      call.end(undefined);
    }
    return ((performance.now() - t0) * 1e6) / n;
  };
  run(Math.min(calls, 20_000));
  const samples = Array.from({ length: rounds }, () => run(calls)).sort((a, b) => a - b);
  telemetry.close();
  await stop?.();
  return { mode, nsPerCall: samples[Math.floor(samples.length / 2)] ?? Number.NaN };
}

reportResult(main(childArgs<TelemetryMicroConfig>({ mode: "string", calls: "number", rounds: "number" })));
