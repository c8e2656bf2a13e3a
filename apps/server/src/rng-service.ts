import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Rng, RngService } from "@rngbalance/proto";

/** The identity of one server instance, fixed at start-up. */
export interface Instance {
  /** The random number every call returns, as in the original demo. */
  readonly rn: bigint;
  /** Host name and listening address, e.g. "rng-7d9f/10.1.2.3:8081". */
  readonly name: string;
}

/** Injected misbehaviour (see RngServerOptions.fault). */
export type Fault = "none" | "unavailable" | "not-serving";

/** Longest delay or interval a request may ask for. */
const MAX_DELAY_MS = 60_000;
/** Most messages one GenerateStream call may ask for. */
const MAX_STREAM_COUNT = 1000;

/** The legacy `rng.Rng` service of the grpc-go demo. */
export function createLegacyRngService(instance: Instance, fault: Fault = "none"): ServiceImpl<typeof Rng> {
  return {
    rng() {
      checkFault(fault, instance);
      return { RN: instance.rn };
    },
  };
}

/** The current `rng.v1.RngService`. */
export function createRngService(instance: Instance, fault: Fault = "none"): ServiceImpl<typeof RngService> {
  return {
    async generate(request, context) {
      checkFault(fault, instance);
      checkRange("delay_ms", request.delayMs, 0, MAX_DELAY_MS);
      if (request.delayMs > 0) await sleep(request.delayMs, context.signal);
      return { rn: instance.rn, instance: instance.name };
    },
    async *generateStream(request, context) {
      checkFault(fault, instance);
      checkRange("count", request.count, 1, MAX_STREAM_COUNT);
      checkRange("interval_ms", request.intervalMs, 0, MAX_DELAY_MS);
      for (let sequence = 0; sequence < request.count; sequence++) {
        if (sequence > 0 && request.intervalMs > 0) {
          await sleep(request.intervalMs, context.signal);
        }
        yield { rn: instance.rn, instance: instance.name, sequence };
      }
    },
  };
}

function checkRange(field: string, value: number, min: number, max: number): void {
  if (value < min || value > max) {
    throw new ConnectError(`${field} must be between ${min} and ${max}, got ${value}`, Code.InvalidArgument);
  }
}

function checkFault(fault: Fault, instance: Instance): void {
  if (fault === "unavailable") {
    throw new ConnectError(`fault injected on ${instance.name}: every call fails`, Code.Unavailable);
  }
}

/**
 * Waits `ms`, or rejects with the signal's own reason when it aborts: a
 * ConnectError such as the drain's UNAVAILABLE then reaches the client as
 * is (node's timers/promises would wrap it in an AbortError, read as CANCELED).
 */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
