/**
 * Simulates every subsetting algorithm side by side for C clients, S servers
 * and subsets of k, and prints Markdown tables: connections per server, the
 * expected load spread, and churn when a server is added or removed (and when
 * a client joins or leaves). Writes a chart of the sorted per-server
 * connection counts to <out>/subsetting.svg.
 *
 *   pnpm --filter @rngbalance/subset-lab simulate [--clients 300] [--servers 300] [--subset 10]
 *                                                 [--trials 10] [--out apps/subset-lab/docs/]
 *
 * Deterministic: the same flags print the same numbers.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FlagError, type FlagSpec, parseFlags, renderFlagTable } from "@rngbalance/cli";
import {
  connectionsPerServer,
  createSubsetter,
  hash64,
  loadPerServer,
  type Spread,
  type SubsetterKind,
  type SubsetterOptions,
  seededRandom,
  spread,
  subsetChurn,
  syntheticPodAddresses,
} from "./dns-pool.js";

/** The script's flags, from which the parser and the usage text both come. */
const FLAGS = {
  clients: { type: "int", default: 300, min: 1, max: 100_000, placeholder: "C", help: "number of clients" },
  servers: { type: "int", default: 300, min: 1, max: 100_000, placeholder: "S", help: "number of servers" },
  subset: { type: "int", default: 10, min: 1, max: 100_000, placeholder: "k", help: "endpoints per client" },
  trials: {
    type: "int",
    default: 10,
    min: 1,
    max: 1_000,
    placeholder: "T",
    help: "single-server additions and removals averaged for churn",
  },
  out: {
    type: "string",
    placeholder: "DIR",
    help: "directory for subsetting.svg (default apps/subset-lab/docs/)",
    validate: (v: string) => (v.trim() === "" ? "must not be empty" : undefined),
  },
} as const satisfies Record<string, FlagSpec>;

const USAGE = `usage: simulate-subsetting [flags]

${renderFlagTable(FLAGS, { noDefault: "docs/" })}`;

interface Config {
  clients: number;
  servers: number;
  subset: number;
  trials: number;
  out: string;
}

function parseConfig(argv: string[]): Config | "help" {
  const parsed = parseFlags(FLAGS, argv);
  if (parsed.help) return "help";
  const { out, ...counts } = parsed.values;
  return {
    ...counts,
    out: out === undefined ? fileURLToPath(new URL("../docs/", import.meta.url)) : resolve(out),
  };
}

/** How a client knows where it stands. */
type Position = "index" | "id";

interface Series {
  label: string;
  kind: SubsetterKind;
  position: Position;
  auto: boolean;
  color: string;
  dash?: string;
}

const SERIES: Series[] = [
  { label: "aperture", kind: "aperture", position: "index", auto: true, color: "#1f77b4" },
  {
    label: "deterministic (SRE)",
    kind: "deterministic",
    position: "index",
    auto: false,
    color: "#ff7f0e",
    dash: "6 4",
  },
  { label: "rendezvous", kind: "rendezvous", position: "id", auto: true, color: "#2ca02c" },
  { label: "aperture", kind: "aperture", position: "id", auto: false, color: "#9467bd", dash: "2 3" },
  {
    label: "deterministic (SRE)",
    kind: "deterministic",
    position: "id",
    auto: false,
    color: "#8c564b",
    dash: "8 3 2 3",
  },
  { label: "random", kind: "random", position: "id", auto: false, color: "#d62728" },
];

function options(series: Series, i: number, clientCount: number): SubsetterOptions {
  return series.position === "index"
    ? { clientIndex: i, clientCount, clientId: clientId(i) }
    : { clientId: clientId(i) };
}

function clientId(i: number): string {
  return `rng-client-${i}/1`;
}

interface Churn {
  mean: number;
  max: number;
}

interface Result {
  series: Series;
  connections: number[];
  conns: Spread;
  load: Spread;
  add: Churn;
  remove: Churn;
  clientJoin: Churn;
  clientLeave: Churn;
  clientLeaveMiddle: Churn;
}

function churnOf(before: string[][], after: string[][]): number[] {
  return before.map((b, i) => subsetChurn(b, after[i]!));
}

function summarize(values: number[]): Churn {
  const s = spread(values);
  return { mean: s.mean, max: s.max };
}

function simulate(config: Config): Result[] {
  const { clients: C, servers: S, subset: k, trials } = config;
  const all = syntheticPodAddresses(S + trials, `simulate-subsetting/${S}/${trials}`);
  const servers = all.slice(0, S);
  const extras = all.slice(S);
  const pickRemoved = seededRandom(hash64(`simulate-subsetting/remove/${S}`));
  const removed = Array.from({ length: trials }, () => servers[Math.floor(pickRemoved() * S)]!);

  return SERIES.map((series) => {
    const make = (count: number) =>
      Array.from({ length: count }, (_, i) => createSubsetter(series.kind, options(series, i, count)));
    const subsetters = make(C);
    const base = subsetters.map((s) => s.select(servers, k));
    const adds: number[] = [];
    const removes: number[] = [];
    for (let t = 0; t < trials; t++) {
      const plus = [...servers, extras[t]!];
      const minus = servers.filter((s) => s !== removed[t]);
      adds.push(
        ...churnOf(
          base,
          subsetters.map((s) => s.select(plus, k)),
        ),
      );
      removes.push(
        ...churnOf(
          base,
          subsetters.map((s) => s.select(minus, k)),
        ),
      );
    }
    // A client joins (index C, the count grows), the last one leaves (a
    // StatefulSet scaling down), or one in the middle leaves: with indexes
    // from rankAmongPeers, the ranks after it shift down by one.
    const joined = make(C + 1)
      .slice(0, C)
      .map((s) => s.select(servers, k));
    const left = C > 1 ? make(C - 1).map((s) => s.select(servers, k)) : [];
    const gone = Math.floor(C / 2);
    const shifted = C > 1 ? make(C - 1) : [];
    const keptBase: string[][] = [];
    const keptAfter: string[][] = [];
    for (let i = 0; i < C && C > 1; i++) {
      if (i === gone) continue;
      keptBase.push(base[i]!);
      // Hash-positioned clients keep their id, hence their subsetter.
      const after = series.position === "index" ? shifted[i < gone ? i : i - 1]! : subsetters[i]!;
      keptAfter.push(after.select(servers, k));
    }
    const connections = connectionsPerServer(servers, base);
    return {
      series,
      connections,
      conns: spread(connections),
      load: spread(loadPerServer(servers, base)),
      add: summarize(adds),
      remove: summarize(removes),
      clientJoin: summarize(churnOf(base, joined)),
      clientLeave: summarize(churnOf(base.slice(0, left.length), left)),
      clientLeaveMiddle: summarize(churnOf(keptBase, keptAfter)),
    };
  });
}

function seriesName(s: Series): string {
  return `${s.label}${s.auto ? " ★" : ""}`;
}

function positionName(s: Series): string {
  return s.position === "index" ? "index i of C" : "hash of id";
}

const f2 = (n: number) => n.toFixed(2);
const f3 = (n: number) => n.toFixed(3);
const int = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));

function table(header: string[], rows: string[][]): string {
  const align = header.map((_, i) => (i < 2 ? "---" : "--:"));
  return [header, align, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

function report(config: Config, results: Result[]): string {
  const { clients: C, servers: S, subset: k, trials } = config;
  const ideal = (C * Math.min(k, S)) / S;
  const main = table(
    [
      "algorithm",
      "client position",
      "conns/server min",
      "mean",
      "max",
      "max/mean",
      "load max/mean",
      `S+1 churn mean`,
      "max",
      `S−1 churn mean`,
      "max",
    ],
    results.map((r) => [
      seriesName(r.series),
      positionName(r.series),
      int(r.conns.min),
      f2(r.conns.mean),
      int(r.conns.max),
      f2(r.conns.maxOverMean),
      f2(r.load.maxOverMean),
      f3(r.add.mean),
      int(r.add.max),
      f3(r.remove.mean),
      int(r.remove.max),
    ]),
  );
  const clientsTable = table(
    [
      "algorithm",
      "client position",
      "C+1 churn mean",
      "max",
      "C−1 (last) churn mean",
      "max",
      "C−1 (middle) churn mean",
      "max",
    ],
    results.map((r) => [
      seriesName(r.series),
      positionName(r.series),
      f3(r.clientJoin.mean),
      int(r.clientJoin.max),
      f3(r.clientLeave.mean),
      int(r.clientLeave.max),
      f3(r.clientLeaveMiddle.mean),
      int(r.clientLeaveMiddle.max),
    ]),
  );
  return [
    `### C=${C} clients, S=${S} servers, k=${k} (ideal ${f2(ideal)} connections per server)`,
    "",
    main,
    "",
    `★ = what \`createSubsetter("auto")\` picks: aperture when clientIndex/clientCount are known, rendezvous otherwise.`,
    `Churn = endpoints changed per client (connections to open), mean over clients × ${trials} single-server`,
    `additions (S+1) or removals (S−1); max over all of them. load max/mean: every client sends the same load, spread evenly over its subset.`,
    "",
    "Remaining clients' churn when a client joins (C+1, new index C), the last one leaves (C−1, a StatefulSet",
    "scaling down) or the middle one leaves (C−1, later indexes shift down as with rankAmongPeers); servers unchanged:",
    "",
    clientsTable,
  ].join("\n");
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

function chart(config: Config, results: Result[]): string {
  const { clients: C, servers: S, subset: k } = config;
  const width = 960;
  const height = 540;
  const m = { left: 70, right: 290, top: 50, bottom: 60 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const yMaxData = Math.max(1, ...results.map((r) => r.conns.max));
  const yStep = niceStep(yMaxData, 6);
  const yMax = Math.ceil(yMaxData / yStep) * yStep;
  const x = (rank: number) => m.left + (S === 1 ? plotW / 2 : (rank / (S - 1)) * plotW);
  const y = (v: number) => m.top + plotH - (v / yMax) * plotH;
  const out: string[] = [];
  const title = `Connections per server, sorted (C=${C} clients, S=${S} servers, k=${k})`;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="title" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<title id="title">${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="28" font-size="16" font-weight="600">${escapeXml(title)}</text>`,
  );
  // Grid and y axis.
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    const yy = y(v).toFixed(1);
    out.push(
      `<line x1="${m.left}" y1="${yy}" x2="${m.left + plotW}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#444">${int(v)}</text>`,
    );
  }
  // x ticks.
  const xStep = niceStep(Math.max(1, S - 1), 8);
  for (let r = 0; r <= S - 1; r += xStep) {
    const xx = x(r).toFixed(1);
    out.push(
      `<line x1="${xx}" y1="${m.top + plotH}" x2="${xx}" y2="${m.top + plotH + 5}" stroke="#444"/>`,
      `<text x="${xx}" y="${m.top + plotH + 18}" text-anchor="middle" fill="#444">${r + 1}</text>`,
    );
  }
  out.push(
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#444"/>`,
    `<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="#444"/>`,
    `<text x="${m.left + plotW / 2}" y="${height - 18}" text-anchor="middle" fill="#222">server rank (most connected first)</text>`,
    `<text transform="translate(20 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#222">client connections</text>`,
  );
  // Ideal mean.
  const ideal = (C * Math.min(k, S)) / S;
  out.push(
    `<line x1="${m.left}" y1="${y(ideal).toFixed(1)}" x2="${m.left + plotW}" y2="${y(ideal).toFixed(1)}" stroke="#000" stroke-width="1" stroke-dasharray="1 3"/>`,
  );
  // Series.
  for (const r of results) {
    const sorted = [...r.connections].sort((a, b) => b - a);
    const points = sorted.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const dash = r.series.dash ? ` stroke-dasharray="${r.series.dash}"` : "";
    out.push(
      `<polyline fill="none" stroke="${r.series.color}" stroke-width="2" stroke-linejoin="round"${dash} points="${points}"><title>${escapeXml(
        `${seriesName(r.series)}, ${positionName(r.series)}: max/mean ${f2(r.conns.maxOverMean)}`,
      )}</title></polyline>`,
    );
  }
  // Legend.
  const lx = m.left + plotW + 20;
  let ly = m.top + 6;
  out.push(`<text x="${lx}" y="${ly}" font-weight="600">algorithm (client position): max/mean</text>`);
  for (const r of results) {
    ly += 24;
    const dash = r.series.dash ? ` stroke-dasharray="${r.series.dash}"` : "";
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${r.series.color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 36}" y="${ly}" dominant-baseline="middle">${escapeXml(
        `${seriesName(r.series)} (${r.series.position === "index" ? "index" : "id hash"}): ${f2(r.conns.maxOverMean)}`,
      )}</text>`,
    );
  }
  ly += 24;
  out.push(
    `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="#000" stroke-dasharray="1 3"/>`,
    `<text x="${lx + 36}" y="${ly}" dominant-baseline="middle">${escapeXml(`ideal C·k/S = ${f2(ideal)}`)}</text>`,
    `<text x="${lx}" y="${ly + 24}" dominant-baseline="middle" fill="#555">★ = "auto" default</text>`,
    "</svg>",
  );
  return `${out.join("\n")}\n`;
}

function main(argv: string[]): number {
  let config: Config | "help";
  try {
    config = parseConfig(argv);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`simulate-subsetting: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (config === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const results = simulate(config);
  process.stdout.write(`${report(config, results)}\n`);
  mkdirSync(config.out, { recursive: true });
  const file = join(config.out, "subsetting.svg");
  writeFileSync(file, chart(config, results));
  process.stdout.write(`\nwrote ${file}\n`);
  return 0;
}

// `pnpm simulate -- --clients 5` passes the separator through; ignore it.
const args = process.argv.slice(2);
process.exitCode = main(args[0] === "--" ? args.slice(1) : args);
