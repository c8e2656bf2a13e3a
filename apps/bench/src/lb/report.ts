import type { BadPodResult } from "./scenarios.js";
import type { ZonePhase } from "./zone.js";

const pct = (x: number) => `${(100 * x).toFixed(x < 0.01 ? 2 : 1)} %`;
const ms = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(0)}` : (us / 1000).toFixed(1));

/** One row per policy: calls, the bad pod's share, latency percentiles (ms), errors. */
export function badPodTable(results: readonly BadPodResult[]): string {
  const rows = [
    "| policy | calls | bad pod's share | p50 ms | p99 ms | p99.9 ms | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    const l = r.run.latency;
    rows.push(
      `| ${r.policy} | ${r.run.calls} | ${pct(r.badShare)} | ${ms(l.percentile(50))} | ${ms(l.percentile(99))} | ${ms(l.percentile(99.9))} | ${r.run.errors}${r.run.firstError ? ` (${r.run.firstError})` : ""} |`,
    );
  }
  return rows.join("\n");
}

/** The new pod's share per second after it became READY, slow start on and off; fair share 1/pods. */
export function scaleUpTable(shares: { on: number[]; off: number[] }, pods: number): string {
  const n = Math.max(shares.on.length, shares.off.length);
  const seconds = Array.from({ length: n }, (_, i) => `${i + 1}`);
  return [
    `| new pod's share in second → | ${seconds.join(" | ")} |`,
    `| --- | ${seconds.map(() => "---:").join(" | ")} |`,
    `| slow start on | ${shares.on.map(pct).join(" | ")} |`,
    `| slow start off | ${shares.off.map(pct).join(" | ")} |`,
    "",
    `(a full share is ${pct(1 / pods)})`,
  ].join("\n");
}

/**
 * One row per phase: calls of zone a's client that left zone a (target
 * <= 5 % while healthy), and zone a's remaining pod's load over the mean
 * per pod (target <= 1.2x when 2 of its pods are gone or saturated), and
 * the calls terminating pods answered (target: none while a pod is READY).
 */
export function zoneTable(phases: readonly ZonePhase[]): string {
  const rows = [
    "| phase | pods | calls | zone a's calls leaving zone a | zone a's last pod vs mean per pod | calls on terminating pods | calls per pod (a… b… c…) | errors |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
  ];
  for (const p of phases) {
    rows.push(
      `| ${p.name} | ${p.pods} | ${p.calls} | ${pct(p.leavingA)} | ${p.localVsMean.toFixed(2)}× | ${p.terminatingPods === 0 ? "–" : p.terminatingCalls} | ${p.perPod.map((x) => `${x.zone}:${x.calls}`).join(" ")} | ${p.errors} |`,
    );
  }
  return rows.join("\n");
}
