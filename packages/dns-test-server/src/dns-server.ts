import * as net from "node:net";
import { type DnsFailureMode, type DnsRecordSet, DnsRecordStore, normalizeDnsName } from "./dns-records.js";
import { DnsResponder } from "./dns-responder.js";
import { answerTcpMessages, closeListeners, type Listeners, listen } from "./dns-transport.js";

export type { DnsFailureMode, DnsRecordSet, DnsSrvRecord } from "./dns-records.js";

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

  private readonly records: DnsRecordStore;
  private readonly responder: DnsResponder;
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
    this.records = new DnsRecordStore(zone);
    this.responder = new DnsResponder(this.records);
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
    const zone = options.zone === undefined ? undefined : normalizeDnsName(options.zone) || undefined;
    return new EmbeddedDnsServer(await listen(host, port), host, zone);
  }

  /** Replaces the name's records (creating the name if needed). */
  setRecords(name: string, records: DnsRecordSet): void {
    this.records.setRecords(name, records);
  }

  /**
   * Adds an A or AAAA record, by the address's syntax, with the name's TTL
   * (default 1 for a new name). Creates the name if needed; adding an
   * address the name has is a no-op.
   *
   * @throws TypeError if `ip` is not an IP address.
   */
  addAddress(name: string, ip: string): void {
    this.records.addAddress(name, ip);
  }

  /** Removes an A or AAAA record. The name stays, even without records (NODATA). */
  removeAddress(name: string, ip: string): void {
    this.records.removeAddress(name, ip);
  }

  /** Deletes the name and its records: later queries get NXDOMAIN. A failure mode set on it stays. */
  deleteName(name: string): void {
    this.records.deleteName(name);
  }

  /**
   * Makes every query for the name (any type, whether or not the name
   * exists) fail in `mode`; `undefined` answers normally again.
   */
  failWith(name: string, mode: DnsFailureMode | undefined): void {
    this.records.failWith(name, mode);
  }

  /**
   * How many well-formed queries arrived for `name` (any type, over UDP or
   * TCP, including dropped ones), or for all names when `name` is omitted.
   * A UDP query retried over TCP counts twice.
   */
  queryCount(name?: string): number {
    return this.responder.queryCount(name);
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
      const response = this.responder.respond(message, "udp");
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
    answerTcpMessages(socket, (message) => this.responder.respond(message, "tcp"));
  }
}
