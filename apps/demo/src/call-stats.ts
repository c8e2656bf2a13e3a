import type { ObservedCall } from "./client-run.js";

/** Distinct instances that answered: the distinct random numbers of the successful calls. */
export function distinctInstances(calls: readonly ObservedCall[]): number {
  return new Set(calls.filter((c) => c.code === "OK").map((c) => c.rn)).size;
}

/** Calls that failed (any status but OK). */
export function errorCount(calls: readonly ObservedCall[]): number {
  return calls.filter((c) => c.code !== "OK").length;
}
