/** One row of the demo's final table. */
export interface PhaseResult {
  readonly phase: string;
  readonly calls: number;
  /** Distinct instances that answered, e.g. 3, or "5 -> 1". */
  readonly instances: number | string;
  readonly errors: number;
  /** What the phase measured, e.g. "new pods first called after 1.02 s, 1.05 s". */
  readonly note: string;
  /** Whether the phase behaved as the demo says it should. */
  readonly ok: boolean;
}

/** The final table, aligned; `mark` renders the ok column. */
export function formatTable(rows: readonly PhaseResult[], mark: (ok: boolean) => string = plainMark): string {
  const header = ["phase", "calls", "instances", "errors", "", "notes"];
  const cells = rows.map((r) => [
    r.phase,
    String(r.calls),
    String(r.instances),
    String(r.errors),
    "",
    r.note,
  ]);
  const widths = header.map((_, i) => Math.max(header[i]!.length, ...cells.map((c) => c[i]!.length)));
  const right = new Set([1, 2, 3]);
  const line = (c: string[], ok?: boolean) =>
    c
      .map((cell, i) => {
        if (i === 4) return ok === undefined ? " " : mark(ok);
        return right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!);
      })
      .join("  ")
      .trimEnd();
  const rule = "-".repeat(widths.reduce((a, w) => a + w + 2, -2) + 1);
  return [line(header), rule, ...cells.map((c, i) => line(c, rows[i]!.ok))].join("\n");
}

function plainMark(ok: boolean): string {
  return ok ? "✓" : "✗";
}

/** Seconds with two decimals: "1.02 s". */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
