import * as net from "node:net";
// Only for the {@link}s below.
import type { EmbeddedDnsServer } from "./dns-server.js";

/** One SRV record of a {@link DnsRecordSet}. */
export interface DnsSrvRecord {
  /** Lower is preferred (RFC 2782). Default 0. */
  priority?: number;
  /** Relative weight among records of the same priority. Default 0. */
  weight?: number;
  /** The port the service listens on, 0 to 65535. */
  port: number;
  /**
   * The host name that serves; its A/AAAA records go in the additional
   * section when this server knows them.
   */
  target: string;
}

/** The records of one name, as given to {@link EmbeddedDnsServer.setRecords}. */
export interface DnsRecordSet {
  /** IPv4 addresses (A records). Default none. */
  a?: string[];
  /** IPv6 addresses (AAAA records). Default none. */
  aaaa?: string[];
  /** SRV records. Default none. */
  srv?: DnsSrvRecord[];
  /** TTL in seconds of every record of the name, an integer from 0 to 2^31-1. Default 1. */
  ttl?: number;
}

/**
 * How queries for a name can be made to fail, to test resolvers (see
 * {@link EmbeddedDnsServer.failWith}):
 *
 * - `"nxdomain"`: rcode 3, the name does not exist (Node: `ENOTFOUND`);
 * - `"servfail"`: rcode 2, the server failed (Node: `ESERVFAIL`);
 * - `"empty"`: NOERROR with no answers, NODATA (Node: `ENODATA`);
 * - `"drop"`: no answer at all, so the client times out (Node: `ETIMEOUT`).
 */
export type DnsFailureMode = "nxdomain" | "servfail" | "empty" | "drop";

/** Largest TTL (RFC 2181, 8). */
const MAX_TTL = 2 ** 31 - 1;

/** The records of one name as stored: canonical addresses, SRV fields filled in. */
export interface DnsEntry {
  a: string[];
  aaaa: string[];
  srv: Required<DnsSrvRecord>[];
  ttl: number;
}

/**
 * The names the embedded DNS server knows, their records and failure
 * modes. Names compare case-insensitively, without a trailing dot and
 * without the zone suffix, if any (see {@link DnsRecordStore.key}).
 */
export class DnsRecordStore {
  private readonly names = new Map<string, DnsEntry>();
  private readonly failures = new Map<string, DnsFailureMode>();

  /** `zone`: a normalized zone suffix (see {@link normalizeDnsName}), or undefined for none. */
  constructor(private readonly zone: string | undefined) {}

  /** Replaces the name's records (creating the name if needed). @throws TypeError for an invalid record. */
  setRecords(name: string, records: DnsRecordSet): void {
    const ttl = records.ttl ?? 1;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) throw new TypeError(`invalid TTL ${ttl}`);
    const entry: DnsEntry = { a: [], aaaa: [], srv: [], ttl };
    for (const ip of records.a ?? []) addTo(entry.a, canonicalIp(ip, 4));
    for (const ip of records.aaaa ?? []) addTo(entry.aaaa, canonicalIp(ip, 6));
    for (const r of records.srv ?? []) {
      const srv = { priority: r.priority ?? 0, weight: r.weight ?? 0, port: r.port, target: r.target };
      for (const field of ["priority", "weight", "port"] as const) {
        const v = srv[field];
        if (!Number.isInteger(v) || v < 0 || v > 65535) throw new TypeError(`invalid SRV ${field} ${v}`);
      }
      entry.srv.push(srv);
    }
    this.names.set(this.key(name), entry);
  }

  /** Adds an A or AAAA record, by the address's syntax (see {@link EmbeddedDnsServer.addAddress}). */
  addAddress(name: string, ip: string): void {
    const key = this.key(name);
    let entry = this.names.get(key);
    if (!entry) {
      entry = { a: [], aaaa: [], srv: [], ttl: 1 };
      this.names.set(key, entry);
    }
    const family = net.isIP(ip);
    addTo(family === 6 ? entry.aaaa : entry.a, canonicalIp(ip, family));
  }

  /** Removes an A or AAAA record. The name stays, even without records (NODATA). */
  removeAddress(name: string, ip: string): void {
    const entry = this.names.get(this.key(name));
    const family = net.isIP(ip);
    if (!entry || family === 0) return;
    const canonical = canonicalIp(ip, family);
    if (family === 6) entry.aaaa = entry.aaaa.filter((x) => x !== canonical);
    else entry.a = entry.a.filter((x) => x !== canonical);
  }

  /** Deletes the name and its records. A failure mode set on it stays. */
  deleteName(name: string): void {
    this.names.delete(this.key(name));
  }

  /** Makes queries for the name fail in `mode`; `undefined` answers normally again. */
  failWith(name: string, mode: DnsFailureMode | undefined): void {
    if (mode === undefined) this.failures.delete(this.key(name));
    else this.failures.set(this.key(name), mode);
  }

  /** The name's records, or undefined for an unknown name. */
  lookup(name: string): DnsEntry | undefined {
    return this.names.get(this.key(name));
  }

  /** How queries for the name fail, or undefined if they are answered normally. */
  failure(name: string): DnsFailureMode | undefined {
    return this.failures.get(this.key(name));
  }

  /** The key of a name: lower case, no trailing dot, no zone suffix. */
  key(name: string): string {
    const n = normalizeDnsName(name);
    if (this.zone !== undefined && n.endsWith(`.${this.zone}`)) {
      return n.slice(0, -this.zone.length - 1);
    }
    return n;
  }
}

/** Names compare case-insensitively and without a trailing dot. */
export function normalizeDnsName(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

/** The canonical text of an IP address of `family` (IPv6 compressed, lower case). */
function canonicalIp(ip: string, family: number): string {
  if (family === 4 && net.isIPv4(ip)) return ip;
  if (family === 6 && net.isIPv6(ip)) return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  throw new TypeError(`not an ${family === 6 ? "IPv6" : family === 4 ? "IPv4" : "IP"} address: "${ip}"`);
}

function addTo(list: string[], ip: string): void {
  if (!list.includes(ip)) list.push(ip);
}
