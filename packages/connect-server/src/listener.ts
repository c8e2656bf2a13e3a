import type * as http from "node:http";
import type * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import type { Connection, ConnectionTable } from "./connection-table.js";
import { type Logger, remoteOf } from "./log.js";

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113, 3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Options of {@link DualProtocolListener}. */
export interface DualProtocolListenerOptions {
  /**
   * How long a new connection may take to send enough bytes to tell HTTP/2
   * from HTTP/1.1, counted from accept (not reset by a trickle of bytes).
   * Port scanners, TCP health checks and stalled clients are closed after it.
   * With TLS it bounds the whole handshake (ALPN tells the protocol).
   */
  readonly detectTimeoutMs: number;
  /**
   * Serve TLS instead of cleartext: every connection must open with a TLS
   * handshake, and ALPN picks the server ("h2" or "http/1.1"; a client
   * offering no ALPN gets HTTP/1.1). These are `tls.createServer`'s
   * options, as `tlsServerOptions` makes them (ALPN, client certificates,
   * handshake timeout). Default: cleartext.
   */
  readonly tls?: tls.TlsOptions;
  /** Admits each accepted connection (or makes the listener close it), and tracks it until it closes. */
  readonly table: ConnectionTable;
  /** Where "connection dropped" lines go. */
  readonly logger: Logger;
  /** The clock of the detect timeout. Default: {@link systemClock}. */
  readonly clock?: Clock;
}

/**
 * One TCP listener for both HTTP/2 cleartext (h2c with prior knowledge, as
 * gRPC uses) and HTTP/1.1 (Connect and gRPC-Web from browsers and curl).
 *
 * Node's http2 server cannot fall back to HTTP/1.1 without TLS/ALPN, so the
 * listener peeks at the connection preface and hands the socket to the
 * matching server. Node's http2 session feeds bytes that were pushed back
 * with `unshift()` to nghttp2 on the next tick, provided the socket is still
 * paused then (nodejs/node#35475), so the h2 branch must not resume it.
 *
 * With TLS the same port speaks TLS only: a `tls.Server` that never
 * listens does each handshake (client certificates, handshake timeout,
 * session tickets as Node's own TLS servers), and ALPN hands the TLS socket
 * to the same two servers. Admission still happens at accept, before any
 * handshake work, and the connection table follows the connection from the
 * TCP socket to the TLS socket over it ({@link ConnectionTable.rebind}).
 *
 * Sockets still being detected (or in their TLS handshake) belong to no
 * server, so the listener tracks them itself: each has a deadline, and a
 * drain closes them at once (they carry no call). Without that, one silent
 * socket kept `net.Server.close()` from ever finishing.
 */
export class DualProtocolListener {
  readonly tcp: net.Server;
  /** The TLS server doing the handshakes, when serving TLS; it never listens itself. */
  readonly tls: tls.Server | undefined;
  private readonly undetected = new Map<net.Socket, TimerHandle>();
  /** TCP sockets in their TLS handshake, by 4-tuple: how a TLS socket finds its connection. */
  private readonly handshaking = new Map<string, { socket: net.Socket; connection: Connection }>();
  private readonly clock: Clock;

  constructor(
    readonly h1: http.Server,
    readonly h2: http2.Http2Server,
    private readonly options: DualProtocolListenerOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    if (options.tls !== undefined) {
      const server = tls.createServer(options.tls);
      server.on("secureConnection", (socket: tls.TLSSocket) => this.routeSecure(socket));
      // A failed handshake (no or a bad client certificate, a scanner, a
      // timeout): Node destroys the socket; one line to tell why.
      server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
        options.logger.log("debug", "connection closed: TLS handshake failed", {
          remote: remoteOf(socket),
          code: err.code,
          err: err.message,
        });
      });
      this.tls = server;
    }
    this.tcp = net.createServer((socket) => {
      // At a connection cap with no idle connection to close instead.
      const connection = options.table.admit(socket);
      if (connection === undefined) socket.destroy();
      else if (this.tls !== undefined) this.handshake(socket, connection, this.tls);
      else this.route(socket);
    });
  }

  /** Connections accepted whose protocol is not known yet. */
  get detecting(): number {
    return this.undetected.size;
  }

  /** Listens on host:port (port 0 picks a free one) and returns the bound address. */
  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tcp.once("error", reject);
      this.tcp.listen({ host, port }, () => {
        this.tcp.off("error", reject);
        resolve(this.tcp.address() as net.AddressInfo);
      });
    });
  }

  /**
   * Stops accepting and closes every connection still being detected; the
   * promise settles once the listening socket and every connection it
   * accepted are closed (the HTTP servers close theirs).
   */
  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    for (const socket of [...this.undetected.keys()]) socket.destroy();
    return closed;
  }

  /** Starts the TLS handshake of an accepted socket; {@link routeSecure} takes it from there. */
  private handshake(socket: net.Socket, connection: Connection, server: tls.Server): void {
    const key = fourTuple(socket);
    const finish = () => {
      this.clock.clearTimeout(this.undetected.get(socket));
      this.undetected.delete(socket);
      if (this.handshaking.get(key)?.socket === socket) this.handshaking.delete(key);
    };
    this.track(socket, () => "connection closed: TLS handshake not done in time");
    this.handshaking.set(key, { socket, connection });
    socket.once("close", finish);
    // The TLS socket takes the TCP socket over; its errors end both.
    server.emit("connection", socket);
  }

  /** A finished handshake: the TLS socket goes to the server its ALPN protocol names. */
  private routeSecure(secure: tls.TLSSocket): void {
    const key = fourTuple(secure);
    const entry = this.handshaking.get(key);
    if (entry === undefined) {
      secure.destroy();
      return;
    }
    this.handshaking.delete(key);
    this.clock.clearTimeout(this.undetected.get(entry.socket));
    this.undetected.delete(entry.socket);
    // Cut or evicted during the handshake: the TCP socket is closing already.
    if (!this.options.table.rebind(entry.connection, secure)) {
      secure.destroy();
      return;
    }
    if (secure.alpnProtocol === "h2") this.h2.emit("connection", secure);
    else this.h1.emit("connection", secure);
  }

  /** Closes `socket` if it is still undetected after detectTimeoutMs. */
  private track(
    socket: net.Socket,
    reason: () => string,
    fields: () => Record<string, unknown> = () => ({}),
  ): void {
    const timer = this.clock.setTimeout(() => {
      this.options.logger.log("debug", reason(), {
        remote: remoteOf(socket),
        ...fields(),
        detectTimeoutMs: this.options.detectTimeoutMs,
      });
      socket.destroy();
    }, this.options.detectTimeoutMs);
    timer.unref();
    this.undetected.set(socket, timer);
  }

  private route(socket: net.Socket): void {
    let head = Buffer.alloc(0);
    const finish = () => {
      this.clock.clearTimeout(this.undetected.get(socket));
      this.undetected.delete(socket);
      socket.off("data", onData);
      socket.off("error", onEarlyError);
      socket.off("close", finish);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      // Decide as soon as the bytes seen rule one protocol out.
      if (isH2 && n < H2_PREFACE.length) return;
      finish();
      socket.pause();
      socket.unshift(head);
      if (isH2) {
        // Left paused: the session reads the buffered bytes on the next tick.
        this.h2.emit("connection", socket);
      } else {
        this.h1.emit("connection", socket);
        socket.resume();
      }
    };
    const onEarlyError = () => socket.destroy();
    this.track(
      socket,
      () => "connection closed: protocol not detected in time",
      () => ({ bytes: head.length }),
    );
    socket.on("data", onData);
    socket.on("error", onEarlyError);
    socket.on("close", finish);
  }
}

/** A connection's addresses and ports, the same on a TCP socket and on the TLS socket over it. */
function fourTuple(socket: net.Socket): string {
  return `${socket.localAddress}|${socket.localPort}|${socket.remoteAddress}|${socket.remotePort}`;
}
