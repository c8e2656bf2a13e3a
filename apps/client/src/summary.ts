import { Code } from "@connectrpc/connect";

/** The outcome of one call, as the client prints it. */
export interface CallOutcome {
  /** When the call ended. */
  readonly time: Date;
  /** The number the instance returned; `undefined` for a failed call. */
  readonly rn: bigint | undefined;
  /** The address the pool sent the call to; `undefined` if it never picked one. */
  readonly address: string | undefined;
  readonly latencyMs: number;
  /** "OK", or the gRPC code name of the error, e.g. "UNAVAILABLE". */
  readonly code: string;
  /** The error message, for a failed call. */
  readonly message: string | undefined;
}

/** One row of the summary: an address, or the totals. */
export interface SummaryRow {
  /** "127.0.0.2:8081"; "(none)" for calls that failed before reaching any address; "total". */
  readonly address: string;
  readonly calls: number;
  readonly errors: number;
  /** Median latency in ms (nearest rank); `undefined` without calls. */
  readonly p50Ms: number | undefined;
  /** 99th percentile latency in ms (nearest rank). */
  readonly p99Ms: number | undefined;
  /** The last number this address returned, as a decimal string (int64). */
  readonly rn: string | undefined;
}

/** What `rng-client` prints at the end. */
export interface Summary {
  /** Rows by address, in address order. */
  readonly endpoints: readonly SummaryRow[];
  readonly total: SummaryRow;
  /** Failed calls per code name. */
  readonly errorsByCode: Readonly<Record<string, number>>;
  /** From the first call's start to the last call's end. */
  readonly durationMs: number;
}

/** Label of calls that failed before the pool picked an address. */
export const NO_ADDRESS = "(none)";

/** gRPC's canonical name of a code: Code.DeadlineExceeded -> "DEADLINE_EXCEEDED". */
export function codeName(code: Code): string {
  const name = Code[code];
  if (name === undefined) return `CODE_${code}`;
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * The nearest-rank percentile (`p` from 0 to 100) of ascending `sorted`
 * values: the smallest value with at least p % of the values at or below it.
 */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

interface Bucket {
  calls: number;
  errors: number;
  latencies: number[];
  rn: bigint | undefined;
}

/** Collects call outcomes and summarizes them per address. */
export class SummaryCollector {
  private readonly buckets = new Map<string, Bucket>();
  private readonly codes = new Map<string, number>();
  private firstStart: number | undefined;
  private lastEnd: number | undefined;

  /** Records one call. */
  add(outcome: CallOutcome): void {
    const key = outcome.address ?? NO_ADDRESS;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { calls: 0, errors: 0, latencies: [], rn: undefined };
      this.buckets.set(key, bucket);
    }
    bucket.calls++;
    bucket.latencies.push(outcome.latencyMs);
    if (outcome.code !== "OK") {
      bucket.errors++;
      this.codes.set(outcome.code, (this.codes.get(outcome.code) ?? 0) + 1);
    } else if (outcome.rn !== undefined) {
      bucket.rn = outcome.rn;
    }
    const end = outcome.time.getTime();
    const start = end - outcome.latencyMs;
    this.firstStart = Math.min(this.firstStart ?? start, start);
    this.lastEnd = Math.max(this.lastEnd ?? end, end);
  }

  /** Calls that failed so far. */
  get errors(): number {
    let n = 0;
    for (const b of this.buckets.values()) n += b.errors;
    return n;
  }

  /** The summary of every call so far. */
  summary(): Summary {
    const row = (address: string, b: Bucket): SummaryRow => {
      const sorted = [...b.latencies].sort((x, y) => x - y);
      return {
        address,
        calls: b.calls,
        errors: b.errors,
        p50Ms: round3(percentile(sorted, 50)),
        p99Ms: round3(percentile(sorted, 99)),
        rn: b.rn?.toString(),
      };
    };
    const keys = [...this.buckets.keys()].sort(compareAddresses);
    const all: Bucket = { calls: 0, errors: 0, latencies: [], rn: undefined };
    for (const b of this.buckets.values()) {
      all.calls += b.calls;
      all.errors += b.errors;
      all.latencies.push(...b.latencies);
    }
    return {
      endpoints: keys.map((k) => row(k, this.buckets.get(k)!)),
      total: row("total", all),
      errorsByCode: Object.fromEntries([...this.codes].sort(([a], [b]) => a.localeCompare(b))),
      durationMs:
        this.firstStart === undefined || this.lastEnd === undefined ? 0 : this.lastEnd - this.firstStart,
    };
  }
}

function round3(ms: number | undefined): number | undefined {
  return ms === undefined ? undefined : Math.round(ms * 1000) / 1000;
}

/** Orders "127.0.0.10:1" after "127.0.0.9:1", and "(none)" last. */
function compareAddresses(a: string, b: string): number {
  if (a === NO_ADDRESS || b === NO_ADDRESS) return Number(a === NO_ADDRESS) - Number(b === NO_ADDRESS);
  return a.localeCompare(b, "en", { numeric: true });
}

/** Milliseconds with a precision that suits their size: "0.42", "12.3", "1530". */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined) return "-";
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

/** The summary as a text table. */
export function formatSummary(s: Summary): string {
  const header = ["address", "calls", "errors", "p50 ms", "p99 ms", "rn"];
  const cells = (r: SummaryRow) => [
    r.address,
    String(r.calls),
    String(r.errors),
    formatMs(r.p50Ms),
    formatMs(r.p99Ms),
    r.rn ?? "",
  ];
  const rows = [header, ...s.endpoints.map(cells), cells(s.total)];
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === 0 || i === r.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const rule = "-".repeat(widths.reduce((a, w) => a + w + 2, -2));
  const out = [line(header), rule, ...s.endpoints.map((r) => line(cells(r))), rule, line(cells(s.total))];
  const codes = Object.entries(s.errorsByCode);
  const tail =
    codes.length === 0 ? "no errors" : `errors: ${codes.map(([code, n]) => `${n} ${code}`).join(", ")}`;
  const endpoints = s.endpoints.filter((r) => r.address !== NO_ADDRESS).length;
  return [
    `summary: ${s.total.calls} calls to ${endpoints} address${endpoints === 1 ? "" : "es"} in ${(s.durationMs / 1000).toFixed(1)} s, ${tail}`,
    ...out,
  ].join("\n");
}

/** The summary as one JSON line: `{"summary":{...}}`. */
export function formatSummaryJson(s: Summary): string {
  return JSON.stringify({ summary: s });
}
