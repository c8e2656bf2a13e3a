import * as dgram from "node:dgram";
import * as net from "node:net";
import * as packet from "dns-packet";

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

/** Options of {@link EmbeddedDnsServer.start}. */
export interface EmbeddedDnsServerOptions {
  /** IP address (v4 or v6 literal) to listen on, UDP and TCP. Default "127.0.0.1". */
  host?: string;
  /** Port, the same for UDP and TCP; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * A zone suffix, e.g. "default.svc.cluster.local": a query for
   * `<name>.<zone>` is answered from the records of `<name>`, as kube-dns
   * answers both `rng-headless` (through the search path) and its fully
   * qualified name. Records may be set under either form; they are the same
   * name. Default: none, names are answered exactly as set.
   */
  zone?: string;
}

/** Largest UDP response to a query without EDNS0 (RFC 1035, 4.2.1). */
const CLASSIC_UDP_LIMIT = 512;
/** Largest DNS message over TCP: its length prefix is 16 bits (RFC 1035, 4.2.2). */
const TCP_LIMIT = 65535;
/**
 * The EDNS0 OPT record of responses to queries that had one (RFC 6891, 6.1.2):
 * root owner, type 41, UDP payload size 1232 (DNS flag day 2020) in the class
 * field, version 0, no flags, no options.
 */
const OPT_RECORD = Buffer.from([0, 0, 41, 1232 >> 8, 1232 & 0xff, 0, 0, 0, 0, 0, 0]);
/** Response codes (RFC 1035, 4.1.1). */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;
/** Header flag bits (RFC 1035, 4.1.1). */
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
/** A compression pointer to offset 12, where the (only) question's name starts (RFC 1035, 4.1.4). */
const QUESTION_NAME_POINTER = Buffer.from([0xc0, 0x0c]);
/** Largest TTL (RFC 2181, 8). */
const MAX_TTL = 2 ** 31 - 1;

interface Entry {
  a: string[];
  aaaa: string[];
  srv: Required<DnsSrvRecord>[];
  ttl: number;
}

type State = "open" | "paused" | "closed";

/**
 * An authoritative DNS server on loopback that plays kube-dns for a headless
 * Service, for tests, the demo and the benchmark. It answers A, AAAA, SRV and
 * ANY queries over UDP and TCP (several queries per connection) from records
 * the caller edits at any time; every query sees the records as they are
 * when it arrives.
 *
 * Names compare case-insensitively and without a trailing dot. An unknown
 * name gets NXDOMAIN; a known name without records of the asked type gets
 * NOERROR with no answers (NODATA); other query types get NOTIMP. An answer
 * too large for UDP (512 bytes, or the query's EDNS0 payload size) is sent
 * with the TC bit and only the records that fit, so resolvers retry over TCP,
 * where answers are complete (up to the 65,535 bytes a DNS message can hold).
 * Malformed packets are ignored.
 *
 * It holds no timers; after {@link EmbeddedDnsServer.close} nothing of it
 * keeps the process alive.
 */
export class EmbeddedDnsServer {
  /** The IP address it listens on. */
  readonly host: string;
  /** The port it listens on, UDP and TCP. */
  readonly port: number;
  /** `host:port` as `setServers()` and a `dns://` authority take it: "127.0.0.1:53535", "[::1]:53535". */
  readonly address: string;

  private readonly zone: string | undefined;
  private readonly names = new Map<string, Entry>();
  private readonly failures = new Map<string, DnsFailureMode>();
  private readonly queriesByName = new Map<string, number>();
  private totalQueries = 0;
  private readonly connections = new Set<net.Socket>();
  private state: State = "open";
  private stopping: Promise<void> = Promise.resolve();
  private resuming: Promise<void> | undefined;

  private constructor(
    private sockets: Listeners,
    host: string,
    zone: string | undefined,
  ) {
    this.host = host;
    this.port = sockets.port;
    this.address = net.isIPv6(host) ? `[${host}]:${this.port}` : `${host}:${this.port}`;
    this.zone = zone;
    this.attach(sockets);
  }

  /**
   * Starts listening on UDP and TCP on the same port (with port 0, one that
   * is free for both).
   *
   * @throws TypeError if `host` is not an IP address literal; the listen
   *   error if the port is taken.
   */
  static async start(options: EmbeddedDnsServerOptions = {}): Promise<EmbeddedDnsServer> {
    const host = options.host ?? "127.0.0.1";
    if (net.isIP(host) === 0)
      throw new TypeError(`EmbeddedDnsServer: host must be an IP address, got "${host}"`);
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`EmbeddedDnsServer: invalid port ${port}`);
    }
    const zone = options.zone === undefined ? undefined : normalize(options.zone) || undefined;
    return new EmbeddedDnsServer(await listen(host, port), host, zone);
  }

  /** Replaces the name's records (creating the name if needed). */
  setRecords(name: string, records: DnsRecordSet): void {
    const ttl = records.ttl ?? 1;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) throw new TypeError(`invalid TTL ${ttl}`);
    const entry: Entry = { a: [], aaaa: [], srv: [], ttl };
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

  /**
   * Adds an A or AAAA record, by the address's syntax, with the name's TTL
   * (default 1 for a new name). Creates the name if needed; adding an
   * address the name has is a no-op.
   *
   * @throws TypeError if `ip` is not an IP address.
   */
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

  /** Deletes the name and its records: later queries get NXDOMAIN. A failure mode set on it stays. */
  deleteName(name: string): void {
    this.names.delete(this.key(name));
  }

  /**
   * Makes every query for the name (any type, whether or not the name
   * exists) fail in `mode`; `undefined` answers normally again.
   */
  failWith(name: string, mode: DnsFailureMode | undefined): void {
    if (mode === undefined) this.failures.delete(this.key(name));
    else this.failures.set(this.key(name), mode);
  }

  /**
   * How many well-formed queries arrived for `name` (any type, over UDP or
   * TCP, including dropped ones), or for all names when `name` is omitted.
   * A UDP query retried over TCP counts twice.
   */
  queryCount(name?: string): number {
    if (name === undefined) return this.totalQueries;
    return this.queriesByName.get(this.key(name)) ?? 0;
  }

  /**
   * Stops answering as if the server were killed: the UDP socket, the TCP
   * server and its connections close, so queries are refused. The records
   * stay; {@link EmbeddedDnsServer.resume} listens again on the same port.
   */
  async pause(): Promise<void> {
    if (this.state === "open") {
      this.state = "paused";
      this.stopping = this.stop();
    }
    await this.stopping;
  }

  /**
   * Listens again on the same port after {@link EmbeddedDnsServer.pause};
   * a no-op while listening.
   *
   * @throws Error after {@link EmbeddedDnsServer.close}, or the listen error
   *   if the port was taken meanwhile.
   */
  async resume(): Promise<void> {
    if (this.state === "closed") throw new Error("EmbeddedDnsServer: resume() after close()");
    if (this.state === "open") return;
    this.resuming ??= this.relisten().finally(() => {
      this.resuming = undefined;
    });
    await this.resuming;
  }

  private async relisten(): Promise<void> {
    await this.stopping;
    const sockets = await listen(this.host, this.port);
    if (this.state === "closed") {
      // close() was called meanwhile.
      await closeListeners(sockets);
      return;
    }
    this.sockets = sockets;
    this.state = "open";
    this.attach(sockets);
  }

  /**
   * Closes the UDP socket, the TCP server and every open TCP connection.
   * Idempotent; resolves once everything is closed.
   */
  async close(): Promise<void> {
    if (this.state === "open") this.stopping = this.stop();
    this.state = "closed";
    await this.stopping;
    // A resume() under way closes what it opened when it sees the state.
    await this.resuming?.catch(() => {});
  }

  private async stop(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await closeListeners(this.sockets);
  }

  private attach({ udp, tcp }: Listeners): void {
    udp.on("message", (message, from) => {
      const response = this.respond(message, "udp");
      if (!response) return;
      try {
        // With a callback, a failed send (the client is gone) reports there, not as an 'error' event.
        udp.send(response, from.port, from.address, () => {});
      } catch {
        // The socket closed meanwhile.
      }
    });
    tcp.on("connection", (socket) => this.serveTcp(socket));
  }

  /**
   * One TCP connection: messages framed by a 2-byte length prefix
   * (RFC 1035, 4.2.2), any number per connection, arriving in chunks of any
   * size. Responses go in the order of the queries.
   */
  private serveTcp(socket: net.Socket): void {
    if (this.state !== "open") {
      socket.destroy();
      return;
    }
    this.connections.add(socket);
    socket.setNoDelay(true);
    socket.on("close", () => this.connections.delete(socket));
    socket.on("error", () => {}); // 'close' follows
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const response = this.respond(message, "tcp");
        if (response && socket.writable) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(response.length);
          socket.write(Buffer.concat([prefix, response]));
        }
      }
    });
  }

  /** The encoded response to one message, or undefined to stay silent. Never throws. */
  private respond(message: Buffer, transport: "udp" | "tcp"): Buffer | undefined {
    try {
      return this.answer(message, transport);
    } catch {
      return undefined; // malformed in a way decode() let through: ignore, as servers do
    }
  }

  private answer(message: Buffer, transport: "udp" | "tcp"): Buffer | undefined {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(message);
    } catch {
      return undefined; // not DNS: ignore
    }
    // Never answer a response (no loops); one question is all real resolvers send.
    if (query.type !== "query" || query.questions?.length !== 1) return undefined;
    const question = query.questions[0]!;
    const questionEnd = endOfQuestion(message);
    if (questionEnd === undefined) return undefined;

    const key = this.key(question.name);
    this.totalQueries++;
    this.queriesByName.set(key, (this.queriesByName.get(key) ?? 0) + 1);

    const opt = query.additionals?.find((a): a is packet.OptAnswer => a.type === "OPT");
    const response = new ResponseBuilder(message, questionEnd, opt !== undefined);
    const limit = transport === "tcp" ? TCP_LIMIT : Math.max(CLASSIC_UDP_LIMIT, opt?.udpPayloadSize ?? 0);

    // Only standard queries (opcode 0) of class IN or ANY.
    const opcode = (message.readUInt16BE(2) >> 11) & 0xf;
    if (opcode !== 0 || (question.class !== "IN" && question.class !== "ANY")) {
      return response.build(RCODE.NOTIMP, limit);
    }

    switch (this.failures.get(key)) {
      case "drop":
        return undefined;
      case "nxdomain":
        return response.build(RCODE.NXDOMAIN, limit);
      case "servfail":
        return response.build(RCODE.SERVFAIL, limit);
      case "empty":
        return response.build(RCODE.NOERROR, limit);
    }

    const entry = this.names.get(key);
    if (!entry) return response.build(RCODE.NXDOMAIN, limit);
    const type = question.type as string;
    const any = type === "ANY";
    if (!any && type !== "A" && type !== "AAAA" && type !== "SRV") return response.build(RCODE.NOTIMP, limit);
    const { ttl } = entry;
    if (any || type === "A") for (const data of entry.a) response.answer({ type: "A", name: ".", ttl, data });
    if (any || type === "AAAA")
      for (const data of entry.aaaa) response.answer({ type: "AAAA", name: ".", ttl, data });
    if (any || type === "SRV") {
      for (const data of entry.srv) response.answer({ type: "SRV", name: ".", ttl, data });
      for (const target of new Set(entry.srv.map((r) => r.target))) this.glue(response, target);
    }
    // No records of the type: NOERROR without answers (NODATA).
    return response.build(RCODE.NOERROR, limit);
  }

  /** Adds the target's A and AAAA records, when known, to the additional section. */
  private glue(response: ResponseBuilder, target: string): void {
    const entry = this.names.get(this.key(target));
    if (!entry || this.failures.has(this.key(target))) return;
    const name = target.replace(/\.$/, "");
    for (const data of entry.a) response.additional({ type: "A", name, ttl: entry.ttl, data });
    for (const data of entry.aaaa) response.additional({ type: "AAAA", name, ttl: entry.ttl, data });
  }

  /** The key of a name: lower case, no trailing dot, no zone suffix. */
  private key(name: string): string {
    const n = normalize(name);
    if (this.zone !== undefined && n.endsWith(`.${this.zone}`)) {
      return n.slice(0, -this.zone.length - 1);
    }
    return n;
  }
}

/**
 * Assembles a response: the query's header fields and its question echoed
 * byte for byte, the answers with their owner name compressed to a pointer
 * to the question's name, then the additional records, then an OPT record
 * if the query had one.
 */
class ResponseBuilder {
  private readonly answers: Buffer[] = [];
  private readonly additionals: Buffer[] = [];

  constructor(
    private readonly query: Buffer,
    private readonly questionEnd: number,
    private readonly edns: boolean,
  ) {}

  /** Adds an answer whose owner is the question's name (`name` is ignored). */
  answer(record: packet.Answer): void {
    // Encoded with the root as owner (one zero byte), which the pointer replaces.
    const encoded = packet.encode({ answers: [{ ...record, name: "." }] }).subarray(12 + 1);
    this.answers.push(Buffer.concat([QUESTION_NAME_POINTER, encoded]));
  }

  /** Adds an additional record (glue). */
  additional(record: packet.Answer): void {
    this.additionals.push(packet.encode({ answers: [record] }).subarray(12));
  }

  /**
   * The response with `rcode`, at most `limit` bytes: when the answers do
   * not all fit, the TC bit is set and only those that fit are sent (RFC
   * 2181, 9); additional records that do not fit are left out without TC.
   */
  build(rcode: number, limit: number): Buffer {
    const opt = this.edns ? OPT_RECORD : undefined;
    let size = this.questionEnd + (opt?.length ?? 0);
    const answers = fitting(this.answers, limit - size);
    size += byteLength(answers);
    const truncated = answers.length < this.answers.length;
    const additionals = truncated ? [] : fitting(this.additionals, limit - size);
    if (opt) additionals.push(opt);

    const header = Buffer.alloc(12);
    header.writeUInt16BE(this.query.readUInt16BE(0), 0); // id
    const queryFlags = this.query.readUInt16BE(2);
    const authoritative = rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN;
    header.writeUInt16BE(
      QR |
        (queryFlags & 0x7800) |
        (authoritative ? AA : 0) |
        (truncated ? TC : 0) |
        (queryFlags & RD) |
        rcode,
      2,
    );
    header.writeUInt16BE(1, 4); // questions
    header.writeUInt16BE(answers.length, 6);
    header.writeUInt16BE(0, 8); // authorities
    header.writeUInt16BE(additionals.length, 10);
    return Buffer.concat([header, this.query.subarray(12, this.questionEnd), ...answers, ...additionals]);
  }
}

/** The leading records of `records` that fit in `room` bytes. */
function fitting(records: Buffer[], room: number): Buffer[] {
  const fit: Buffer[] = [];
  for (const r of records) {
    if (r.length > room) break;
    fit.push(r);
    room -= r.length;
  }
  return fit;
}

function byteLength(buffers: Buffer[]): number {
  let n = 0;
  for (const b of buffers) n += b.length;
  return n;
}

/**
 * Where the first question of a message ends: after its name (labels up
 * to a zero byte, or a compression pointer), type and class. Undefined if
 * the message is too short.
 */
function endOfQuestion(message: Buffer): number | undefined {
  let offset = 12;
  for (;;) {
    const length = message[offset];
    if (length === undefined) return undefined;
    if ((length & 0xc0) === 0xc0) {
      offset += 2;
      break;
    }
    offset += 1 + length;
    if (length === 0) break;
  }
  offset += 4;
  return offset <= message.length ? offset : undefined;
}

interface Listeners {
  udp: dgram.Socket;
  tcp: net.Server;
  port: number;
}

/** Binds UDP and TCP on the same port; with port 0, retries until a port is free for both. */
async function listen(host: string, requestedPort: number): Promise<Listeners> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
    const port = await new Promise<number>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(requestedPort, host, () => {
        udp.off("error", reject);
        resolve(udp.address().port);
      });
    });
    // Errors after binding (a send that fails) must never crash the process.
    udp.on("error", () => {});
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen(port, host, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
      tcp.on("error", () => {});
      return { udp, tcp, port };
    } catch (err) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      // The free UDP port's TCP twin was taken: try another one.
      if (requestedPort !== 0 || attempt >= 20) throw err;
    }
  }
}

async function closeListeners({ udp, tcp }: Listeners): Promise<void> {
  await Promise.all([
    new Promise<void>((resolve) => {
      try {
        udp.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    }),
    new Promise<void>((resolve) => tcp.close(() => resolve())),
  ]);
}

/** Names compare case-insensitively and without a trailing dot. */
function normalize(name: string): string {
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
