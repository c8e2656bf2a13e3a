import * as dgram from "node:dgram";
import * as net from "node:net";
import { isIP } from "node:net";
import * as packet from "dns-packet";

/** The records of one name. */
export interface DnsRecordSet {
  /** IPv4 addresses (A records). */
  a?: string[];
  /** IPv6 addresses (AAAA records). */
  aaaa?: string[];
  /** SRV records; their targets' A/AAAA go in the additional section when known. */
  srv?: { priority?: number; weight?: number; port: number; target: string }[];
  /** TTL in seconds of every record of the name. Default 1. */
  ttl?: number;
}

/** How a name can be made to fail, to test resolvers. */
export type DnsFailureMode =
  /** NXDOMAIN: the name does not exist. */
  | "nxdomain"
  /** SERVFAIL: the server failed. */
  | "servfail"
  /** NOERROR with no answers (NODATA). */
  | "empty"
  /** No answer at all: the client times out. */
  | "drop";

/** Options of {@link EmbeddedDnsServer.start}. */
export interface EmbeddedDnsServerOptions {
  /** Address to listen on (UDP and TCP). Default "127.0.0.1". */
  host?: string;
  /** Port; 0 picks a free one (the same for UDP and TCP). Default 0. */
  port?: number;
}

/** Largest UDP answer without EDNS0 (RFC 1035, 4.2.1). */
const CLASSIC_UDP_LIMIT = 512;
/** DNS response codes used here (RFC 1035, 4.1.1). */
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4 } as const;

interface Entry {
  a: string[];
  aaaa: string[];
  srv: { priority: number; weight: number; port: number; target: string }[];
  ttl: number;
}

/**
 * An authoritative DNS server on loopback that plays kube-dns for tests, the
 * demo and the benchmark: it answers A, AAAA and SRV queries from records the
 * caller edits at any time, over UDP and TCP. An answer too large for UDP
 * is sent truncated (TC bit) so resolvers retry over TCP, as real servers do;
 * TCP answers are always complete.
 */
export class EmbeddedDnsServer {
  private readonly names = new Map<string, Entry>();
  private readonly failures = new Map<string, DnsFailureMode>();
  private readonly queries = new Map<string, number>();
  private readonly connections = new Set<net.Socket>();
  private listening = true;

  private constructor(
    private udp: dgram.Socket,
    private tcp: net.Server,
    /** The address it listens on. */
    readonly host: string,
    /** The port it listens on (UDP and TCP). */
    readonly port: number,
  ) {
    this.attach();
  }

  private attach(): void {
    this.udp.on("message", (msg, rinfo) => {
      const response = this.answer(msg, "udp");
      if (response) this.udp.send(response, rinfo.port, rinfo.address);
    });
    this.tcp.on("connection", (socket) => this.serveTcp(socket));
  }

  /** Starts listening on UDP and TCP, on the same port. */
  static async start(options: EmbeddedDnsServerOptions = {}): Promise<EmbeddedDnsServer> {
    const host = options.host ?? "127.0.0.1";
    const type = isIP(host) === 6 ? "udp6" : "udp4";
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket(type);
      // Malformed input or a send to a gone client must never crash the process.
      udp.on("error", () => {});
      const port = await new Promise<number>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind(options.port ?? 0, host, () => resolve(udp.address().port));
      });
      const tcp = net.createServer();
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once("error", reject);
          tcp.listen(port, host, () => resolve());
        });
        return new EmbeddedDnsServer(udp, tcp, host, port);
      } catch (err) {
        udp.close();
        // The UDP port's TCP twin was taken: pick another free port.
        if (options.port || attempt >= 10) throw err;
      }
    }
  }

  /** "127.0.0.1:53535": what a `dns://` target's authority names. */
  get address(): string {
    return isIP(this.host) === 6 ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Replaces the name's records. */
  setRecords(name: string, records: DnsRecordSet): void {
    this.names.set(normalize(name), {
      a: [...(records.a ?? [])],
      aaaa: [...(records.aaaa ?? [])],
      srv: (records.srv ?? []).map((r) => ({ priority: r.priority ?? 0, weight: r.weight ?? 0, ...r })),
      ttl: records.ttl ?? 1,
    });
  }

  /** Adds an A or AAAA record (by the address's syntax); creates the name if needed. */
  addAddress(name: string, ip: string): void {
    const entry = this.entry(name);
    const list = isIP(ip) === 6 ? entry.aaaa : entry.a;
    if (!list.includes(ip)) list.push(ip);
  }

  /** Removes an A or AAAA record. */
  removeAddress(name: string, ip: string): void {
    const entry = this.names.get(normalize(name));
    if (!entry) return;
    entry.a = entry.a.filter((x) => x !== ip);
    entry.aaaa = entry.aaaa.filter((x) => x !== ip);
  }

  /** Deletes the name: later queries get NXDOMAIN. */
  deleteName(name: string): void {
    this.names.delete(normalize(name));
  }

  /** Makes queries for the name fail in `mode`; undefined answers normally again. */
  failWith(name: string, mode: DnsFailureMode | undefined): void {
    if (mode) this.failures.set(normalize(name), mode);
    else this.failures.delete(normalize(name));
  }

  /** How many queries arrived for `name`, or for all names. */
  queryCount(name?: string): number {
    if (name !== undefined) return this.queries.get(normalize(name)) ?? 0;
    let n = 0;
    for (const c of this.queries.values()) n += c;
    return n;
  }

  /**
   * Stops answering as if the server were killed: the sockets close, so
   * queries are refused. The records stay; `resume()` listens again on the
   * same port.
   */
  pause(): Promise<void> {
    return this.close();
  }

  /** Listens again on the same port after `pause()`. */
  async resume(): Promise<void> {
    const udp = dgram.createSocket(isIP(this.host) === 6 ? "udp6" : "udp4");
    udp.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(this.port, this.host, () => resolve());
    });
    const tcp = net.createServer();
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(this.port, this.host, () => resolve());
    });
    this.udp = udp;
    this.tcp = tcp;
    this.listening = true;
    this.attach();
  }

  /** Stops listening and closes every TCP connection. */
  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    for (const socket of this.connections) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => this.udp.close(() => resolve())),
      new Promise<void>((resolve) => this.tcp.close(() => resolve())),
    ]);
  }

  private entry(name: string): Entry {
    const key = normalize(name);
    let entry = this.names.get(key);
    if (!entry) {
      entry = { a: [], aaaa: [], srv: [], ttl: 1 };
      this.names.set(key, entry);
    }
    return entry;
  }

  private serveTcp(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on("close", () => this.connections.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Each message is prefixed with its 2-byte length (RFC 1035, 4.2.2).
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        const response = this.answer(message, "tcp");
        if (response) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(response.length);
          socket.write(Buffer.concat([prefix, response]));
        }
      }
    });
  }

  /** The encoded response to one query, or undefined to stay silent. */
  private answer(message: Buffer, transport: "udp" | "tcp"): Buffer | undefined {
    let query: packet.DecodedPacket;
    try {
      query = packet.decode(message);
    } catch {
      return undefined; // not DNS: ignore, as servers do
    }
    if (query.type !== "query" || !query.questions || query.questions.length !== 1) return undefined;
    const question = query.questions[0] as packet.Question;
    const name = normalize(question.name);
    this.queries.set(name, (this.queries.get(name) ?? 0) + 1);
    const reply = (rcode: number, answers: packet.Answer[] = [], additionals: packet.Answer[] = []) => ({
      type: "response" as const,
      id: query.id,
      flags: packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED) | rcode,
      questions: query.questions,
      answers,
      additionals,
    });
    const failure = this.failures.get(name);
    if (failure === "drop") return undefined;
    if (failure === "nxdomain") return packet.encode(reply(RCODE.NXDOMAIN));
    if (failure === "servfail") return packet.encode(reply(RCODE.SERVFAIL));
    const entry = this.names.get(name);
    if (!entry) return packet.encode(reply(RCODE.NXDOMAIN));
    if (failure === "empty") return packet.encode(reply(RCODE.NOERROR));
    let answers: packet.Answer[];
    let additionals: packet.Answer[] = [];
    switch (question.type) {
      case "A":
        answers = entry.a.map((data) => ({ type: "A", name: question.name, ttl: entry.ttl, data }));
        break;
      case "AAAA":
        answers = entry.aaaa.map((data) => ({ type: "AAAA", name: question.name, ttl: entry.ttl, data }));
        break;
      case "SRV":
        answers = entry.srv.map((data) => ({ type: "SRV", name: question.name, ttl: entry.ttl, data }));
        additionals = entry.srv.flatMap((r) => this.addressRecords(r.target));
        break;
      default:
        return packet.encode(reply(RCODE.NOTIMP));
    }
    const full = packet.encode(reply(RCODE.NOERROR, answers, additionals));
    if (transport === "tcp") return full;
    const opt = query.additionals?.find((a): a is packet.OptAnswer => a.type === "OPT");
    const limit = Math.max(CLASSIC_UDP_LIMIT, opt?.udpPayloadSize ?? 0);
    if (full.length <= limit) return full;
    // Too big for this UDP client: set TC and send no records; it retries over TCP.
    const truncated = reply(RCODE.NOERROR);
    truncated.flags |= packet.TRUNCATED_RESPONSE;
    return packet.encode(truncated);
  }

  private addressRecords(target: string): packet.Answer[] {
    const entry = this.names.get(normalize(target));
    if (!entry) return [];
    return [
      ...entry.a.map((data) => ({ type: "A" as const, name: target, ttl: entry.ttl, data })),
      ...entry.aaaa.map((data) => ({ type: "AAAA" as const, name: target, ttl: entry.ttl, data })),
    ];
  }
}

/** Names compare case-insensitively and without a trailing dot. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}
