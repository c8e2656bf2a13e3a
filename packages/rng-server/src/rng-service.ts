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

/**
 * Injected misbehaviour (see RngServerOptions.fault): none; every call
 * fails ("unavailable"); health says NOT_SERVING ("not-serving"); every
 * call is answered `ms` later, without using CPU ("latency"); every call
 * burns `ms` of CPU on the event loop before answering ("cpu"), so the
 * server is slow and its CPU busy, as a pod that is overloaded or on a
 * noisy node.
 */
export type Fault =
  | "none"
  | "unavailable"
  | "not-serving"
  | { readonly kind: "latency"; readonly ms: number }
  | { readonly kind: "cpu"; readonly ms: number };

/** Longest latency or CPU burn a fault may add to a call. */
export const MAX_FAULT_MS = 60_000;

/**
 * Reads a fault as `rng-server --fault` takes it: none, unavailable,
 * not-serving, latency:<duration> or cpu:<duration> (Go durations: 50ms, 1.5s).
 * @param parseDuration - reads a Go duration into ms (undefined when malformed).
 * @returns the fault, or a message that says what is wrong and what is accepted.
 */
export function parseFault(
  text: string,
  parseDuration: (s: string) => number | undefined,
): { fault: Fault } | { problem: string } {
  if (text === "none" || text === "unavailable" || text === "not-serving") return { fault: text };
  const m = /^(latency|cpu):(.*)$/.exec(text);
  if (!m) {
    return {
      problem: `must be none, unavailable, not-serving, latency:<duration> or cpu:<duration> (e.g. latency:50ms); got "${text}"`,
    };
  }
  const kind = m[1] as "latency" | "cpu";
  const ms = parseDuration(m[2] as string);
  if (ms === undefined || ms <= 0 || ms > MAX_FAULT_MS) {
    return {
      problem: `${kind}: needs a duration from 1ms to ${MAX_FAULT_MS / 1000}s, such as ${kind}:50ms; got "${m[2]}"`,
    };
  }
  return { fault: { kind, ms } };
}

/** The fault as flags and logs show it: "latency:50ms", "unavailable". */
export function formatFault(fault: Fault): string {
  return typeof fault === "string" ? fault : `${fault.kind}:${fault.ms}ms`;
}

/** Longest delay or interval a request may ask for. */
const MAX_DELAY_MS = 60_000;
/** Most messages one GenerateStream call may ask for. */
const MAX_STREAM_COUNT = 1000;

/** The legacy `rng.Rng` service of the grpc-go demo. */
export function createLegacyRngService(instance: Instance, fault: Fault = "none"): ServiceImpl<typeof Rng> {
  return {
    // Without a slowing fault the handler stays synchronous: no promise per call.
    rng:
      typeof fault === "string"
        ? () => {
            checkFault(fault, instance);
            return { RN: instance.rn };
          }
        : async (_request, context) => {
            await slowFault(fault, context.signal);
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
      await slowFault(fault, context.signal);
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

/** The latency and cpu faults: wait, or burn CPU, before the call is answered. */
function slowFault(fault: Fault, signal: AbortSignal): Promise<void> | undefined {
  if (typeof fault === "string") return undefined;
  if (fault.kind === "latency") return sleep(fault.ms, signal);
  // Busy on purpose: the event loop (and so every other call) waits, as on an overloaded pod.
  const end = performance.now() + fault.ms;
  while (performance.now() < end) {
    // spin
  }
  return undefined;
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
