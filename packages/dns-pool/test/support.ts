import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { RNSchema, Rng, SourceSchema } from "@rngbalance/proto";

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
