import { readFileSync } from "node:fs";

/** The parts of /etc/resolv.conf that decide which names a short name means. */
export interface SearchConfig {
  /** Search domains, e.g. ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"] in a pod. */
  readonly search: readonly string[];
  /** A name with at least this many dots is tried as is first (Kubernetes sets 5). */
  readonly ndots: number;
}

/** Reads the search list the system resolver would use; none if the file is missing. */
export function readSearchConfig(path = "/etc/resolv.conf"): SearchConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return { search: [], ndots: 1 };
  }
  return parseResolvConf(text);
}

/** Parses resolv.conf text: the last `search`/`domain` line wins, as in glibc. */
export function parseResolvConf(text: string): SearchConfig {
  let search: string[] = [];
  let ndots = 1;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*/, "").trim();
    const [keyword, ...args] = line.split(/\s+/);
    if (keyword === "search" || keyword === "domain") search = args.filter(Boolean);
    if (keyword === "options") {
      for (const opt of args) {
        const m = /^ndots:(\d+)$/.exec(opt);
        if (m) ndots = Math.min(Number(m[1]), 15);
      }
    }
  }
  return { search, ndots };
}

/**
 * The names to query for `host`, in order, as the system resolver would try
 * them: a name ending in "." as is; one with at least `ndots` dots as is,
 * then with each search domain; a shorter one with each search domain first.
 */
export function searchCandidates(host: string, config: SearchConfig): string[] {
  if (host.endsWith(".")) return [host.slice(0, -1)];
  const expanded = config.search.map((domain) => `${host}.${domain.replace(/\.$/, "")}`);
  const dots = host.split(".").length - 1;
  return dots >= config.ndots ? [host, ...expanded] : [...expanded, host];
}
