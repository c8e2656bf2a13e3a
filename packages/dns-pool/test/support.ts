import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  ConnectivityState,
  createPoolTransport,
  type PoolTransport,
  type PoolTransportOptions,
  registerResolver,
} from "@rngbalance/dns-pool";
import type { FakeResolver } from "@rngbalance/dns-pool/testing";
import { RNSchema, Rng, SourceSchema } from "@rngbalance/proto";
import { until } from "@rngbalance/testkit";

export { freePort, until } from "@rngbalance/testkit";

/**
 * `/rng.Rng/Rng` as a @grpc/grpc-js service definition (protobuf-es for the
 * messages), for grpc-js servers (`server.addService(GRPC_JS_RNG, …)`) and
 * clients (`makeUnaryRequest(GRPC_JS_RNG.Rng.path, …)`) in interop tests.
 */
export const GRPC_JS_RNG = {
  Rng: {
    path: "/rng.Rng/Rng",
    requestStream: false,
    responseStream: false,
    requestDeserialize: (b: Buffer) => fromBinary(SourceSchema, b),
    requestSerialize: (m: unknown) => Buffer.from(toBinary(SourceSchema, m as never)),
    responseSerialize: (m: unknown) => Buffer.from(toBinary(RNSchema, m as never)),
    responseDeserialize: (b: Buffer) => fromBinary(RNSchema, b),
  },
} as const;

/** How often each value occurs. */
export function countBy<T>(values: Iterable<T>): Map<T, number> {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** A closed-loop load: `concurrency` workers, each pacing itself to reach `ratePerSecond` in all. */
export interface Load {
  /** Every answer: when, and which instance's number. */
  readonly answers: { at: number; rn: bigint }[];
  /** Every failed call: when, and the error. */
  readonly failures: { at: number; error: ConnectError }[];
  stop(): Promise<void>;
}

/** Starts `Rng` calls through `transport` until `stop()`. */
export function startLoad(
  transport: Transport,
  { concurrency = 8, ratePerSecond = 200, timeoutMs = 2000 } = {},
): Load {
  const client = createClient(Rng, transport);
  const answers: Load["answers"] = [];
  const failures: Load["failures"] = [];
  const periodMs = (1000 * concurrency) / ratePerSecond;
  let running = true;
  const worker = async () => {
    while (running) {
      const started = Date.now();
      try {
        answers.push({ at: Date.now(), rn: (await client.rng({}, { timeoutMs })).RN });
      } catch (e) {
        failures.push({ at: Date.now(), error: ConnectError.from(e) });
      }
      const wait = periodMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    answers,
    failures,
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/** The resolvers handed to {@link readyPool}, by the endpoint of their `handed:` target. */
const handed = new Map<string, FakeResolver>();

/**
 * Creates an eager pool, records it in `pools` (for the suite's `after()` to
 * close, even when it never gets ready) and waits up to 10 s until it has
 * exactly `ready` endpoints, every one READY. From then on every call is
 * balanced over all of them, so shares and rotations are exact from the
 * first call instead of skewed by endpoints still connecting.
 *
 * With `resolver`, the pool takes its addresses from that resolver (the test
 * pushes them) through a `handed:` scheme registered here on first use, and
 * `options` carries no `target`.
 *
 * @param pools - the suite's pools; the new one is appended before waiting.
 * @param options - the pool's options; `connect` defaults to "eager" here.
 * @param ready - how many endpoints the pool must have, all READY.
 * @param resolver - where the pool's addresses come from, instead of a target.
 */
export function readyPool(
  pools: PoolTransport[],
  options: PoolTransportOptions,
  ready: number,
): Promise<PoolTransport>;
export function readyPool(
  pools: PoolTransport[],
  options: Omit<PoolTransportOptions, "target">,
  ready: number,
  resolver: FakeResolver,
): Promise<PoolTransport>;
export async function readyPool(
  pools: PoolTransport[],
  options: Omit<PoolTransportOptions, "target"> & { target?: string },
  ready: number,
  resolver?: FakeResolver,
): Promise<PoolTransport> {
  let target = options.target;
  if (resolver) {
    // Registered lazily: a process that never hands a resolver keeps its schemes as they were.
    if (handed.size === 0) {
      registerResolver("handed", {
        defaultAuthority: () => "rng.test:8081",
        create: (t) => handed.get(t.endpoint) as FakeResolver,
      });
    }
    const name = `pool-${handed.size}`;
    handed.set(name, resolver);
    target = `handed:${name}`;
  }
  if (target === undefined) throw new TypeError("readyPool: give options.target or a resolver");
  const pool = createPoolTransport({ connect: "eager", ...options, target });
  pools.push(pool);
  await until(
    () => {
      const endpoints = pool.stats().endpoints;
      return endpoints.length === ready && endpoints.every((e) => e.state === ConnectivityState.READY);
    },
    10_000,
    `${ready} endpoints READY`,
  );
  return pool;
}
