/** The client table's bar chart, latest.svg. */
import { CLIENTS_PER_SET, type ClientKind, SERVER_SETS } from "../../harness/cell.js";
import { SERVER_TITLES, type SummaryRow } from "./summary.js";

const COLORS: Readonly<Record<ClientKind, string>> = {
  "pool-rr": "#2563eb",
  "pool-lr": "#60a5fa",
  "pool-connect": "#93c5fd",
  "pool-connect-json": "#bfdbfe",
  "pool-otel-off": "#1e3a8a",
  "pool-metrics": "#7c3aed",
  "pool-tracing": "#c084fc",
  "stock-connect": "#f59e0b",
  "grpc-js": "#10b981",
  "raw-http2": "#9ca3af",
  "connect-h1": "#fcd34d",
};

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function kilo(n: number): string {
  return n >= 10_000
    ? `${Math.round(n / 1000)}k`
    : n >= 1000
      ? `${(n / 1000).toFixed(1)}k`
      : `${Math.round(n)}`;
}

/** A grouped bar chart of calls/s (median, min–max whiskers): one panel per server set. */
export function renderSvg(
  summary: readonly SummaryRow[],
  repeats: number,
  concurrencies: readonly number[],
): string {
  const panelW = 520;
  const panelH = 300;
  const left = 60;
  const top = 70;
  const gap = 40;
  const width = left + SERVER_SETS.length * (panelW + gap);
  const height = top + panelH + 70;
  const maxValue = Math.max(
    1,
    ...summary.map((r) => (Number.isFinite(r.callsPerSecond.max) ? r.callsPerSecond.max : 0)),
  );
  const step = niceStep(maxValue / 5);
  const yMax = Math.ceil(maxValue / step) * step;
  const y = (v: number) => top + panelH - (v / yMax) * panelH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text x="${left}" y="22" font-size="16" font-weight="bold">Unary Rng calls/s by client and calls in flight (median of ${repeats}, whiskers min–max)</text>`,
  );
  // Legend.
  const allClients = [...new Set(SERVER_SETS.flatMap((s) => CLIENTS_PER_SET[s]))];
  allClients.forEach((client, i) => {
    const x = left + i * 150;
    out.push(`<rect x="${x}" y="34" width="12" height="12" fill="${COLORS[client]}"/>`);
    out.push(`<text x="${x + 18}" y="45">${esc(client)}</text>`);
  });
  SERVER_SETS.forEach((serverSet, p) => {
    const x0 = left + p * (panelW + gap);
    const clients = CLIENTS_PER_SET[serverSet];
    out.push(`<g>`);
    out.push(
      `<text x="${x0 + panelW / 2}" y="${top + panelH + 50}" text-anchor="middle" font-weight="bold">${esc(SERVER_TITLES[serverSet])}</text>`,
    );
    for (let v = 0; v <= yMax + 1e-9; v += step) {
      out.push(
        `<line x1="${x0}" y1="${y(v).toFixed(1)}" x2="${x0 + panelW}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`,
      );
      out.push(
        `<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#6b7280">${kilo(v)}</text>`,
      );
    }
    out.push(
      `<line x1="${x0}" y1="${top + panelH}" x2="${x0 + panelW}" y2="${top + panelH}" stroke="#111827"/>`,
    );
    const groupW = panelW / concurrencies.length;
    const barW = Math.min(40, (groupW - 20) / clients.length);
    concurrencies.forEach((c, g) => {
      const gx = x0 + g * groupW + (groupW - barW * clients.length) / 2;
      out.push(
        `<text x="${x0 + g * groupW + groupW / 2}" y="${top + panelH + 18}" text-anchor="middle">${c} in flight</text>`,
      );
      clients.forEach((client, i) => {
        const row = summary.find(
          (r) => r.serverSet === serverSet && r.client === client && r.concurrency === c,
        );
        if (!row || !Number.isFinite(row.callsPerSecond.median)) return;
        const bx = gx + i * barW;
        const { min, median, max } = row.callsPerSecond;
        out.push(
          `<rect x="${bx.toFixed(1)}" y="${y(median).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + panelH - y(median)).toFixed(1)}" fill="${COLORS[client]}"><title>${esc(`${client}, ${serverSet}, ${c} in flight: ${Math.round(median)} calls/s`)}</title></rect>`,
        );
        const cx = bx + (barW - 2) / 2;
        out.push(
          `<line x1="${cx.toFixed(1)}" y1="${y(min).toFixed(1)}" x2="${cx.toFixed(1)}" y2="${y(max).toFixed(1)}" stroke="#111827"/>`,
        );
        out.push(
          `<text x="${cx.toFixed(1)}" y="${(y(max) - 4).toFixed(1)}" text-anchor="middle" font-size="9" fill="#374151">${kilo(median)}</text>`,
        );
      });
    });
    out.push(`</g>`);
  });
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}

function niceStep(raw: number): number {
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}
