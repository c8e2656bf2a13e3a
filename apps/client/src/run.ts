import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep, setImmediate as yieldToEventLoop } from "node:timers/promises";
import { ConnectError, createClient } from "@connectrpc/connect";
import { ConnectivityState, type PoolTransport } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type CallOutcome, codeName, formatMs } from "./summary.js";

/** Makes one call and reports its outcome; never rejects. */
export type RngCaller = () => Promise<CallOutcome>;

/**
 * A caller of the legacy `/rng.Rng/Rng` through `transport` that knows
 * which address each call went to, exactly, however many calls run at once.
 *
 * The pool emits `pick` synchronously inside the call, so the listener runs
 * in the call's async context: each call runs in its own
 * AsyncLocalStorage slot, and the listener writes the address into the
 * slot of the call that is being picked for. With transparent retries the
 * last pick wins: the address of the attempt that answered. With hedging
 * the last pick is that of the last attempt started, which may not be the
 * one that answered. `headers` go with every call (e.g. ring_hash's key).
 */
export function createRngCaller(
  transport: PoolTransport,
  timeoutMs: number,
  headers?: Readonly<Record<string, string>>,
): RngCaller {
  const slots = new AsyncLocalStorage<{ address: string | undefined }>();
  transport.on("pick", (e) => {
    const slot = slots.getStore();
    if (slot) slot.address = e.address;
  });
  const client = createClient(Rng, transport);
  return () => {
    const slot: { address: string | undefined } = { address: undefined };
    return slots.run(slot, async (): Promise<CallOutcome> => {
      const start = performance.now();
      try {
        const res = await client.rng({}, headers === undefined ? { timeoutMs } : { timeoutMs, headers });
        return {
          time: new Date(),
          rn: res.RN,
          address: slot.address,
          latencyMs: performance.now() - start,
          code: "OK",
          message: undefined,
        };
      } catch (err) {
        const e = ConnectError.from(err);
        return {
          time: new Date(),
          rn: undefined,
          address: slot.address,
          latencyMs: performance.now() - start,
          code: codeName(e.code),
          message: e.rawMessage,
        };
      }
    });
  };
}

/**
 * Waits until `pool` (created with `connect: "eager"`) is settled: it is
 * READY or failing, and no address is still connecting; or `timeoutMs`
 * passed. Resolves either way: calls then report what is wrong. With
 * round_robin the first calls then rotate over every address at once,
 * instead of going to whichever connected first.
 */
export function waitUntilSettled(pool: PoolTransport, timeoutMs: number): Promise<void> {
  const settled = () => {
    const s = pool.stats();
    if (s.state !== ConnectivityState.READY && s.state !== ConnectivityState.TRANSIENT_FAILURE) return false;
    return s.endpoints.every((e) => e.state !== ConnectivityState.CONNECTING);
  };
  if (settled()) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (settled()) done();
    };
    const done = () => {
      clearTimeout(timer);
      pool.off("state", check).off("endpointState", check).off("resolution", check);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    pool.on("state", check).on("endpointState", check).on("resolution", check);
  });
}

/** Options of {@link runLoop}. */
export interface LoopOptions {
  readonly call: RngCaller;
  /** Pause after each call, per worker. */
  readonly intervalMs: number;
  /** Calls in all; `undefined`: until `signal` aborts. */
  readonly count: number | undefined;
  /** Workers, each running one call at a time. */
  readonly concurrency: number;
  /** Stops starting calls; calls in flight finish (within their deadline). */
  readonly signal: AbortSignal;
  readonly onOutcome: (outcome: CallOutcome) => void;
}

/**
 * Runs `concurrency` workers that call, report, pause `intervalMs`, and
 * repeat, until `count` calls have started or `signal` aborts. Resolves
 * once every started call has been reported.
 */
export async function runLoop(o: LoopOptions): Promise<void> {
  let started = 0;
  const more = () => !o.signal.aborted && (o.count === undefined || started < o.count);
  const worker = async () => {
    while (more()) {
      started++;
      o.onOutcome(await o.call());
      if (!more()) break;
      if (o.intervalMs > 0) {
        await sleep(o.intervalMs, undefined, { signal: o.signal }).catch(() => undefined);
      } else {
        // Calls that fail at once settle in microtasks: let I/O and signals in.
        await yieldToEventLoop();
      }
    }
  };
  const workers = Math.min(o.concurrency, o.count ?? o.concurrency);
  await Promise.all(Array.from({ length: workers }, worker));
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** Local time as Go's `log` package prints it: "2026/11/25 10:18:01". */
export function formatLogTime(d: Date): string {
  return (
    `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/**
 * One call as a text line, the original client's line plus the address:
 * "2026/11/25 10:18:01 request 7754383576636566559 from 127.0.0.2:8081 (0.81 ms)", or
 * "2026/11/25 10:18:01 error UNAVAILABLE from 127.0.0.2:8081 (1.20 ms): connect ECONNREFUSED ...".
 */
export function formatCallLine(o: CallOutcome): string {
  const from = o.address === undefined ? "" : ` from ${o.address}`;
  const took = `(${formatMs(o.latencyMs)} ms)`;
  if (o.code === "OK") return `${formatLogTime(o.time)} request ${o.rn} from ${o.address ?? "?"} ${took}`;
  return `${formatLogTime(o.time)} error ${o.code}${from} ${took}: ${o.message ?? ""}`;
}

/**
 * One call as a JSON line: `{"time","rn","address","latencyMs","code"}`,
 * plus `"message"` for a failed call. `rn` is a decimal string (int64),
 * `null` for a failed call; `address` is `null` if no address was picked.
 */
export function formatCallJson(o: CallOutcome): string {
  return JSON.stringify({
    time: o.time.toISOString(),
    rn: o.rn === undefined ? null : o.rn.toString(),
    address: o.address ?? null,
    latencyMs: Math.round(o.latencyMs * 1000) / 1000,
    code: o.code,
    ...(o.message === undefined ? {} : { message: o.message }),
  });
}
