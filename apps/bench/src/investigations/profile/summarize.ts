import { readFileSync } from "node:fs";

/** The parts of a V8 .cpuprofile (`node --cpu-prof`) used here. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
  }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one function (name + file + line). */
export interface ProfileEntry {
  readonly fn: string;
  /** Short location: package-relative file and line, or node:internal/... */
  readonly where: string;
  /** Package or area: "node:http2", "@connectrpc/connect", "(garbage collector)", ... */
  readonly area: string;
  readonly selfMs: number;
  readonly percent: number;
}

/** Self time aggregated by function, and by package/area. */
export interface ProfileSummary {
  readonly totalMs: number;
  readonly top: readonly ProfileEntry[];
  readonly byArea: readonly { area: string; selfMs: number; percent: number }[];
}

/**
 * Reads a .cpuprofile and sums self time (samples x the sampling interval)
 * per function+url+line, and per package or node internal module; only
 * samples within `windowUs` (monotonic clock, µs) when given.
 */
export function summarizeProfile(
  path: string,
  topN = 15,
  windowUs?: readonly [number, number],
): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { fn: string; where: string; area: string; us: number }>();
  const areaUs = new Map<string, number>();
  let totalUs = 0;
  let at = profile.startTime;
  // Each sample counts as one sampling interval (as DevTools' hit counts do):
  // the gap before the next sample would also charge the time the thread
  // spent descheduled on a busy machine to whatever function it was in.
  const deltas = profile.timeDeltas.filter((d) => d > 0).sort((a, b) => a - b);
  const dt = deltas[deltas.length >> 1] ?? 1000;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (windowUs && (at < windowUs[0] || at > windowUs[1])) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const fn = functionName || "(anonymous)";
    if (fn === "(idle)") continue;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : "";
    const area = areaOf(fn, url);
    const key = `${fn}\u0000${where}`;
    const entry = selfUs.get(key) ?? { fn, where, area, us: 0 };
    entry.us += dt;
    selfUs.set(key, entry);
    areaUs.set(area, (areaUs.get(area) ?? 0) + dt);
    totalUs += dt;
  }
  const pct = (us: number) => (totalUs === 0 ? 0 : (100 * us) / totalUs);
  return {
    totalMs: totalUs / 1000,
    top: [...selfUs.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, area: e.area, selfMs: e.us / 1000, percent: pct(e.us) })),
    byArea: [...areaUs]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, percent: pct(us) })),
  };
}

/** "file:///…/node_modules/.pnpm/x/node_modules/@connectrpc/connect/dist/esm/a.js" -> "@connectrpc/connect/dist/esm/a.js". */
function shortUrl(url: string): string {
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  const m = /\/(packages|apps)\/([^/]+)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[2]}/${m[3]}`;
  return url.replace(/^file:\/\//, "");
}

function areaOf(fn: string, url: string): string {
  if (!url) {
    if (fn.startsWith("(")) return fn; // (garbage collector), (program)
    return "(native)";
  }
  if (url.startsWith("node:")) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(url);
    return `node:${m?.[1] ?? url}`;
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/(packages|apps)\/([^/]+)\//.exec(url);
  if (m) return `@rngbalance/${m[2]}`;
  return url;
}
