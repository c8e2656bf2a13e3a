import * as dns from "node:dns";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Backoff, resolutionBackoff } from "../core/backoff.js";
import { type Address, formatAddress, formatHostPort, type TcpAddress } from "./address.js";
import { readSearchConfig, type SearchConfig, searchCandidates } from "./resolv-conf.js";
import type { Resolution, Resolver, ResolverListener } from "./resolver.js";

/** Settings of {@link DnsResolver}. */
export interface DnsResolverOptions {
  /** The name to resolve. */
  readonly host: string;
  /** The port every resolved address gets (SRV records bring their own). */
  readonly port: number;
  /** The DNS server to ask; undefined: the system's servers and search list. */
  readonly dnsServer: TcpAddress | undefined;
  /** Never re-resolve more often than this, whatever the TTL or the requests. */
  readonly minResolveIntervalMs: number;
  /** Re-resolve at least this often, whatever the TTL. */
  readonly maxResolveIntervalMs: number;
  /** Per-query timeout. */
  readonly dnsTimeoutMs: number;
  /** Look up SRV records of the host and resolve their targets, using the SRV ports. */
  readonly srv: boolean;
  /** The search list; default read from /etc/resolv.conf. */
  readonly searchConfig?: SearchConfig;
}

interface Found {
  addresses: Address[];
  ttlSeconds: number | undefined;
}

/** A DNS query failure with the name and server, in words a user can act on. */
class DnsLookupError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Resolves A and AAAA records (or SRV) with their TTL through c-ares, again
 * after every TTL (clamped to [min, max] interval), and at once when asked
 * (rate-limited to the min interval). Failures back off and never replace
 * the last good list: the pool keeps it and the error is only reported.
 *
 * c-ares retries a truncated UDP answer over TCP, so answers with hundreds of
 * records come back complete.
 */
export class DnsResolver implements Resolver {
  private readonly resolver: dns.promises.Resolver;
  private readonly serverLabel: string;
  private readonly failureBackoff: Backoff;
  private listener: ResolverListener | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Number.POSITIVE_INFINITY;
  private running = false;
  private rerunRequested = false;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  /** Earliest moment of the next query after a failure (backoff). */
  private notBefore = Number.NEGATIVE_INFINITY;
  private closed = false;

  constructor(private readonly options: DnsResolverOptions) {
    this.resolver = new dns.promises.Resolver({ timeout: options.dnsTimeoutMs, tries: 2 });
    if (options.dnsServer) {
      this.resolver.setServers([formatHostPort(options.dnsServer.host, options.dnsServer.port)]);
      this.serverLabel = formatHostPort(options.dnsServer.host, options.dnsServer.port);
    } else {
      this.serverLabel = `the system resolver (${this.resolver.getServers().join(", ") || "no servers in /etc/resolv.conf"})`;
    }
    this.failureBackoff = resolutionBackoff(options.minResolveIntervalMs, options.maxResolveIntervalMs);
  }

  /** Resolves now, and again as the TTL says. */
  start(listener: ResolverListener): void {
    this.listener = listener;
    void this.run();
  }

  /** Re-resolves soon, no sooner than the min interval after the last query (and the failure backoff). */
  resolveNow(): void {
    if (this.closed) return;
    if (this.running) {
      this.rerunRequested = true;
      return;
    }
    const earliest = Math.max(this.lastStartAt + this.options.minResolveIntervalMs, this.notBefore);
    this.schedule(Math.max(0, earliest - Date.now()));
  }

  /** Stops: clears the timer; no more results. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.resolver.cancel();
  }

  /** Arms the timer unless it already fires sooner. */
  private schedule(delayMs: number, force = false): void {
    const dueAt = Date.now() + delayMs;
    if (!force && this.timer && this.timerDueAt <= dueAt) return;
    clearTimeout(this.timer);
    this.timerDueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, delayMs);
    // Re-resolution alone must not keep a finished process alive.
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.closed || this.running) return;
    this.running = true;
    this.lastStartAt = Date.now();
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const found = await this.lookup();
      if (this.closed) return;
      this.failureBackoff.reset();
      this.notBefore = Number.NEGATIVE_INFINITY;
      const { minResolveIntervalMs: min, maxResolveIntervalMs: max } = this.options;
      const ttlMs = found.ttlSeconds === undefined ? max : found.ttlSeconds * 1000;
      this.schedule(Math.min(max, Math.max(min, ttlMs)), true);
      this.listener?.onResolution(found satisfies Resolution);
    } catch (err) {
      if (this.closed) return;
      const delay = this.failureBackoff.nextDelayMs();
      this.notBefore = Date.now() + delay;
      this.schedule(delay, true);
      const message = err instanceof DnsLookupError ? err.message : `DNS lookup failed: ${String(err)}`;
      // The lookup error (with its DNS code) stays as the cause: metrics label failures by it.
      this.listener?.onResolutionError(
        new ConnectError(message, Code.Unavailable, undefined, undefined, err),
      );
    } finally {
      this.running = false;
      if (this.rerunRequested && !this.closed) {
        this.rerunRequested = false;
        this.resolveNow();
      }
    }
  }

  private async lookup(): Promise<Found> {
    const { host, dnsServer } = this.options;
    const names = dnsServer
      ? [host]
      : searchCandidates(host, this.options.searchConfig ?? readSearchConfig());
    let worst: DnsLookupError | undefined;
    for (const name of names) {
      try {
        const found = this.options.srv
          ? await this.lookupSrv(name)
          : await this.lookupAddresses(name, this.options.port);
        if (found.addresses.length > 0) return found;
      } catch (err) {
        const e = err as DnsLookupError;
        // A "no such name" for one search candidate says less than a server failure.
        if (!worst || (worst.code === "ENOTFOUND" && e.code !== "ENOTFOUND") || worst.code === "ENODATA")
          worst = e;
      }
    }
    if (!dnsServer && !this.options.srv) {
      // Names only the OS knows (/etc/hosts, nsswitch): getaddrinfo, which gives no TTL.
      try {
        const all = await dns.promises.lookup(host, { all: true });
        if (all.length > 0)
          return {
            addresses: sortAddresses(all.map((a) => ({ host: a.address, port: this.options.port }))),
            ttlSeconds: undefined,
          };
      } catch {
        // Report the DNS error below: it says more than getaddrinfo's.
      }
    }
    throw (
      worst ??
      new DnsLookupError(
        "ENODATA",
        `DNS name "${host}" has no A or AAAA records (empty answer from ${this.serverLabel})`,
      )
    );
  }

  private async lookupAddresses(name: string, port: number): Promise<Found> {
    const [v4, v6] = await Promise.allSettled([
      this.resolver.resolve4(name, { ttl: true }),
      this.resolver.resolve6(name, { ttl: true }),
    ]);
    const records = [
      ...(v4.status === "fulfilled" ? v4.value : []),
      ...(v6.status === "fulfilled" ? v6.value : []),
    ];
    if (records.length === 0) {
      const errors = [v4, v6].flatMap((r) =>
        r.status === "rejected" ? [r.reason as NodeJS.ErrnoException] : [],
      );
      // Prefer the error that is not "no such record": it explains more.
      const err =
        errors.find((e) => e.code !== "ENODATA" && e.code !== "ENOTFOUND") ??
        errors.find((e) => e.code === "ENOTFOUND") ??
        errors[0];
      throw this.explain(name, err);
    }
    return {
      addresses: sortAddresses(records.map((r) => ({ host: r.address, port }))),
      ttlSeconds: Math.min(...records.map((r) => r.ttl)),
    };
  }

  private async lookupSrv(name: string): Promise<Found> {
    let records: dns.SrvRecord[];
    try {
      records = await this.resolver.resolveSrv(name);
    } catch (err) {
      throw this.explain(name, err as NodeJS.ErrnoException);
    }
    if (records.length === 0) throw this.explain(name, undefined);
    // Only the most preferred priority is used, as RFC 2782 asks.
    const best = Math.min(...records.map((r) => r.priority));
    const results = await Promise.allSettled(
      records.filter((r) => r.priority === best).map((r) => this.lookupAddresses(r.name, r.port)),
    );
    const found = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    if (found.length === 0) {
      throw (results[0] as PromiseRejectedResult).reason;
    }
    const ttls = found.flatMap((f) => (f.ttlSeconds === undefined ? [] : [f.ttlSeconds]));
    return {
      addresses: sortAddresses(found.flatMap((f) => f.addresses)),
      ttlSeconds: ttls.length > 0 ? Math.min(...ttls) : undefined,
    };
  }

  private explain(name: string, err: NodeJS.ErrnoException | undefined): DnsLookupError {
    const at = this.serverLabel;
    const code = err?.code;
    switch (code) {
      case "ENOTFOUND":
        return new DnsLookupError("ENOTFOUND", `DNS name "${name}" does not exist (NXDOMAIN from ${at})`);
      case "ENODATA":
      case undefined:
        return new DnsLookupError(
          "ENODATA",
          `DNS name "${name}" has no ${this.options.srv ? "SRV" : "A or AAAA"} records (empty answer from ${at})`,
        );
      case "ESERVFAIL":
        return new DnsLookupError("ESERVFAIL", `DNS server ${at} failed to answer for "${name}" (SERVFAIL)`);
      case "ETIMEOUT":
        return new DnsLookupError(
          "ETIMEOUT",
          `DNS server ${at} did not answer for "${name}" within ${this.options.dnsTimeoutMs} ms (2 tries): is it running and reachable?`,
        );
      case "ECONNREFUSED":
        return new DnsLookupError(
          "ECONNREFUSED",
          `DNS server ${at} refused the query for "${name}": is it running?`,
        );
      case "ECANCELLED":
        return new DnsLookupError(
          "ECANCELLED",
          `DNS lookup of "${name}" was cancelled (the pool is closing)`,
        );
      default:
        return new DnsLookupError(code, `DNS lookup of "${name}" at ${at} failed: ${code} ${err?.message}`);
    }
  }
}

function sortAddresses(addresses: Address[]): Address[] {
  const byKey = new Map(addresses.map((a) => [formatAddress(a), a]));
  return [...byKey.keys()].sort().map((k) => byKey.get(k) as Address);
}
