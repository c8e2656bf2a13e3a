import type { FaultResult, FaultScenario } from "./scenarios.js";

const ms = (v: number | null | undefined, never = "never") =>
  v === null || v === undefined
    ? never
    : Number.isNaN(v)
      ? "-"
      : v >= 1000
        ? `${(v / 1000).toFixed(1)} s`
        : `${Math.round(v)} ms`;

/**
 * The results as text: per scenario a block whose rows are the measures and
 * whose columns are the drivers, side by side.
 */
export function formatFaultTable(
  scenarios: readonly FaultScenario[],
  results: readonly FaultResult[],
): string {
  const drivers = [...new Set(results.map((r) => r.driver))];
  const out: string[] = [];
  for (const scenario of scenarios) {
    const row = (label: string, cell: (r: FaultResult) => string) => [
      label,
      ...drivers.map((d) => {
        const r = results.find((x) => x.scenario === scenario.name && x.driver === d);
        if (!r) return "";
        if (r.hung) return "HUNG";
        if (r.error || !r.measurement) return "error";
        return cell(r);
      }),
    ];
    const rows: string[][] = [
      ["", ...drivers],
      row("failed calls", (r) => {
        const f = Object.entries(r.measurement?.failures ?? {});
        return f.length === 0 ? "0" : f.map(([code, n]) => `${n} ${code}`).join(", ");
      }),
      row("longest call", (r) => ms(r.measurement?.longestMs)),
      row("p99 before", (r) => ms(r.measurement?.p99BeforeMs)),
      row("p99 during fault", (r) => ms(r.measurement?.p99FaultMs)),
      row("throughput fault/before", (r) => `${(r.measurement?.throughputRatio ?? Number.NaN).toFixed(2)}x`),
      row("faulty pod's share", (r) => {
        const share = r.measurement?.faultyShare;
        if (share === undefined || Number.isNaN(share.before)) return "-";
        return `${(share.before * 100).toFixed(0)} % -> ${(share.during * 100).toFixed(0)} %`;
      }),
    ];
    rows.push(row("worst event-loop stall", (r) => ms(r.maxBeatGapMs)));
    if (scenario.hasFaultyPod) {
      rows.push(row("detection", (r) => ms(r.measurement?.detectionMs)));
      rows.push(row("recovery", (r) => ms(r.measurement?.recoveryMs)));
    }
    const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? [];
    out.push(`${scenario.name}: ${scenario.description}`);
    for (const r of rows)
      out.push(
        r
          .map((cell, c) => cell.padEnd(widths[c] ?? 0))
          .join("  ")
          .trimEnd(),
      );
    for (const r of results.filter((x) => x.scenario === scenario.name)) {
      if (r.hung)
        out.push(
          `  ${r.driver} hung (last heartbeat ${ms(r.hung.lastBeatMs)} after the fault began); stack:\n    ${r.hung.stack.split("\n").join("\n    ")}`,
        );
      if (r.error) out.push(`  ${r.driver} error: ${r.error}`);
    }
    out.push("");
  }
  return out.join("\n");
}
