/**
 * What the demo reads from rng-client's /metrics: the pool's picks per
 * endpoint (`rngbalance_pool_picks_total`, labelled `rngbalance_endpoint`
 * because rng-client turns the endpoint label on).
 */

/** Picks per endpoint address, from Prometheus text. */
export function picksPerEndpoint(text: string): Map<string, number> {
  const picks = new Map<string, number>();
  for (const m of text.matchAll(/^rngbalance_pool_picks_total\{([^}]*)\} (\S+)$/gm)) {
    const endpoint = /(?:^|,)rngbalance_endpoint="([^"]*)"/.exec(m[1] ?? "")?.[1];
    if (endpoint !== undefined) picks.set(endpoint, (picks.get(endpoint) ?? 0) + Number(m[2]));
  }
  return picks;
}

/** One row of the demo's "from /metrics" table. */
export interface PickRow {
  readonly label: string;
  readonly address: string;
  /** Attempts the pool sent there (its metrics). */
  readonly picks: number;
  /** Calls that pod answered (the client's own lines). */
  readonly answered: number;
}

/**
 * The table's rows: every address in either source. Picks count attempts,
 * so a call retried transparently (refused by a draining pod) counts on
 * both pods while its line names the one that answered: picks ≥ answered.
 */
export function pickRows(
  picks: ReadonlyMap<string, number>,
  answered: ReadonlyMap<string, number>,
  label: (address: string) => string,
): PickRow[] {
  const addresses = [...new Set([...picks.keys(), ...answered.keys()])].sort((a, b) =>
    a.localeCompare(b, "en", { numeric: true }),
  );
  return addresses.map((address) => ({
    label: label(address),
    address,
    picks: picks.get(address) ?? 0,
    answered: answered.get(address) ?? 0,
  }));
}

/** The rows as aligned text lines. */
export function formatPickRows(rows: readonly PickRow[]): string[] {
  const header = ["pod", "address", "picks (/metrics)", "calls answered (client lines)"];
  const cells = rows.map((r) => [r.label, r.address, String(r.picks), String(r.answered)]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((v, i) => (i < 2 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join("  ");
  return [line(header), ...cells.map(line)];
}
