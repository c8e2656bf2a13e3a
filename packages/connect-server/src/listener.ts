import type * as http from "node:http";
import type * as http2 from "node:http2";
import * as net from "node:net";
import type { ConnectionTable } from "./connection-table.js";
import { type Logger, remoteOf } from "./log.js";

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113, 3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Options of {@link DualProtocolListener}. */
export interface DualProtocolListenerOptions {
  /**
   * How long a new connection may take to send enough bytes to tell HTTP/2
   * from HTTP/1.1, counted from accept (not reset by a trickle of bytes).
   * Port scanners, TCP health checks and stalled clients are closed after it.
   */
  readonly detectTimeoutMs: number;
  /** Admits each accepted connection (or makes the listener close it), and tracks it until it closes. */
  readonly table: ConnectionTable;
  /** Where "connection dropped" lines go. */
  readonly logger: Logger;
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
 * Sockets still being detected belong to no server, so the listener tracks
 * them itself: each has a deadline, and a drain closes them at once (they
 * carry no call). Without that, one silent socket kept `net.Server.close()`
 * from ever finishing.
 */
export class DualProtocolListener {
  readonly tcp: net.Server;
  private readonly undetected = new Map<net.Socket, NodeJS.Timeout>();

  constructor(
    readonly h1: http.Server,
    readonly h2: http2.Http2Server,
    private readonly options: DualProtocolListenerOptions,
  ) {
    this.tcp = net.createServer((socket) => {
      // At a connection cap with no idle connection to close instead.
      if (options.table.admit(socket) === undefined) socket.destroy();
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

  private route(socket: net.Socket): void {
    let head = Buffer.alloc(0);
    const finish = () => {
      clearTimeout(this.undetected.get(socket));
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
    const timer = setTimeout(() => {
      this.options.logger.log("debug", "connection closed: protocol not detected in time", {
        remote: remoteOf(socket),
        bytes: head.length,
        detectTimeoutMs: this.options.detectTimeoutMs,
      });
      socket.destroy();
    }, this.options.detectTimeoutMs);
    timer.unref();
    this.undetected.set(socket, timer);
    socket.on("data", onData);
    socket.on("error", onEarlyError);
    socket.on("close", finish);
  }
}
