/** Number formats shared by the tables' Markdown. */
import type { Spread } from "./stats.js";

/** `n` with thousands separators and `digits` decimals; "–" when not finite. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "median (min–max)", or the median alone when every repeat agrees. */
export function fmtSpread(s: Spread, digits = 0): string {
  if (!Number.isFinite(s.median)) return "–";
  if (s.min === s.max) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** A ratio's spread as "min / **median** / max", two decimals. */
export function fmtRatio(s: Spread): string {
  if (!Number.isFinite(s.median)) return "–";
  return `${s.min.toFixed(2)} / **${s.median.toFixed(2)}** / ${s.max.toFixed(2)}`;
}
