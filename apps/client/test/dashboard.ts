/** PromQL words that are not metric names. */
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "and",
  "or",
  "unless",
  "inf",
  "nan",
]);

/** A Grafana dashboard, as far as its queries go. */
interface Dashboard {
  panels: { targets?: { expr?: string }[] }[];
}

/**
 * The metric names a dashboard's PromQL queries read: identifiers left
 * once label matchers (`{...}`), grouping clauses (`by (...)`), ranges
 * (`[5m]`), strings and function calls are taken out.
 */
export function dashboardMetricNames(dashboard: Dashboard): string[] {
  const names = new Set<string>();
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const expr = (target.expr ?? "")
        .replace(/"(?:[^"\\]|\\.)*"/g, "")
        .replace(/\{[^}]*\}/g, "")
        .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
        .replace(/\[[^\]]*\]/g, "");
      for (const m of expr.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
        const word = m[0];
        // A word followed by "(" is a function.
        if (/^\s*\(/.test(expr.slice(m.index + word.length))) continue;
        if (!KEYWORDS.has(word.toLowerCase())) names.add(word);
      }
    }
  }
  return [...names].sort();
}

/** The sample names in Prometheus text ("x_bucket", "x_sum", "x_count", "y_total", ...). */
export function exportedNames(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return [...names];
}
