import type { BadPodResult } from "./scenarios.js";

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
