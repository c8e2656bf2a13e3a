import { grpcStatusName } from "@rngbalance/grpc-names";
import type { CallRecords } from "./drivers.js";

/** When the phases of one run began and ended, in ms since the epoch. */
export interface PhaseMarks {
  /** The load started (baseline phase). */
  readonly start: number;
  /** The fault was injected. */
  readonly faultStart: number;
  /** The fault was removed (recovery phase). */
  readonly faultEnd: number;
  /** The load stopped. */
  readonly end: number;
}

/** What one client did through one fault. Times in milliseconds. */
export interface FaultMeasurement {
  /** Calls started. */
  readonly calls: number;
  /**
   * Failed calls by gRPC status name, over the whole run; "UNFINISHED" counts
   * calls still running when the driver stopped (they waited at least as
   * long as {@link FaultMeasurement.longestMs} says).
   */
  readonly failures: Readonly<Record<string, number>>;
  /** The longest call (an unfinished one counts with the time it had waited). */
  readonly longestMs: number;
  /** p99 latency of the calls that started before the fault. */
  readonly p99BeforeMs: number;
  /** p99 latency of the calls that started during the fault (unfinished ones count as their wait). */
  readonly p99FaultMs: number;
  /** Successful calls per second during the fault ÷ before it. */
  readonly throughputRatio: number;
  /**
   * From the fault's start to the last time the client started a call on
   * the faulty pod during the fault; null when it kept starting calls there
   * until the last 500 ms of the fault (it never stopped), or when there is
   * no faulty pod.
   */
  readonly detectionMs: number | null;
  /**
   * From the fault's end to the start of the first call the faulty pod
   * answered that started after the fault ended; null when none did (or no
   * faulty pod).
   */
  readonly recoveryMs: number | null;
  /**
   * The faulty pod's share of the calls that started before the fault, and
   * of those that started during it (0..1); NaN without a faulty pod. A
   * balancer that notices a lossy or slow pod moves calls off it.
   */
  readonly faultyShare: { readonly before: number; readonly during: number };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/**
 * Reduces a driver's call records and pick times to a {@link FaultMeasurement}.
 * `faultyPod` is the pod's index in the records' pod numbering, undefined
 * for faults without one (a frozen DNS server).
 */
export function measure(
  calls: CallRecords,
  picks: readonly (readonly number[])[],
  marks: PhaseMarks,
  faultyPod: number | undefined,
): FaultMeasurement {
  const failures: Record<string, number> = {};
  let longest = 0;
  const before: number[] = [];
  const during: number[] = [];
  let okBefore = 0;
  let okDuring = 0;
  let recoveryStart = Number.POSITIVE_INFINITY;
  let faultyBefore = 0;
  let faultyDuring = 0;
  for (let i = 0; i < calls.start.length; i++) {
    const start = calls.start[i] as number;
    const finished = !Number.isNaN(calls.duration[i] as number);
    const duration = finished ? (calls.duration[i] as number) : marks.end - start;
    const end = start + duration;
    const code = calls.code[i] as number;
    if (!finished) failures.UNFINISHED = (failures.UNFINISHED ?? 0) + 1;
    else if (code !== 0) {
      const name = grpcStatusName(code);
      failures[name] = (failures[name] ?? 0) + 1;
    }
    longest = Math.max(longest, duration);
    const onFaulty = faultyPod !== undefined && calls.pod[i] === faultyPod;
    if (start < marks.faultStart) {
      // Calls started in the warm-up count only towards throughput (by when they ended).
      if (start >= marks.start) {
        before.push(duration);
        if (onFaulty) faultyBefore++;
      }
    } else if (start < marks.faultEnd) {
      during.push(duration);
      if (onFaulty) faultyDuring++;
    }
    if (finished && code === 0) {
      if (end >= marks.start && end < marks.faultStart) okBefore++;
      else if (end >= marks.faultStart && end < marks.faultEnd) okDuring++;
      if (faultyPod !== undefined && calls.pod[i] === faultyPod && start >= marks.faultEnd) {
        recoveryStart = Math.min(recoveryStart, start);
      }
    }
  }
  before.sort((a, b) => a - b);
  during.sort((a, b) => a - b);
  const rateBefore = okBefore / ((marks.faultStart - marks.start) / 1000);
  const rateDuring = okDuring / ((marks.faultEnd - marks.faultStart) / 1000);
  let detectionMs: number | null = null;
  if (faultyPod !== undefined) {
    const inFault = (picks[faultyPod] ?? []).filter((t) => t >= marks.faultStart && t < marks.faultEnd);
    const lastPick = inFault.length === 0 ? marks.faultStart : (inFault[inFault.length - 1] as number);
    detectionMs = lastPick >= marks.faultEnd - 500 ? null : lastPick - marks.faultStart;
  }
  return {
    calls: calls.start.length,
    failures,
    longestMs: longest,
    p99BeforeMs: percentile(before, 99),
    p99FaultMs: percentile(during, 99),
    throughputRatio: rateBefore > 0 ? rateDuring / rateBefore : Number.NaN,
    detectionMs,
    recoveryMs:
      faultyPod !== undefined && Number.isFinite(recoveryStart) ? recoveryStart - marks.faultEnd : null,
    faultyShare:
      faultyPod === undefined
        ? { before: Number.NaN, during: Number.NaN }
        : { before: faultyBefore / before.length, during: faultyDuring / during.length },
  };
}
