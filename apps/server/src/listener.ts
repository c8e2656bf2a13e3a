import type * as http from "node:http";
import type * as http2 from "node:http2";
import * as net from "node:net";

/** The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113, 3.4). */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * One TCP listener for both HTTP/2 cleartext (h2c with prior knowledge, as
 * gRPC uses) and HTTP/1.1 (Connect and gRPC-Web from browsers and curl).
 *
 * Node's http2 server cannot fall back to HTTP/1.1 without TLS/ALPN, so the
 * listener peeks at the connection preface and hands the socket to the
 * matching server. Node's http2 session feeds bytes that were pushed back
 * with `unshift()` to nghttp2 on the next tick, provided the socket is still
 * paused then (nodejs/node#35475), so the h2 branch must not resume it.
 */
export class DualProtocolListener {
  readonly tcp: net.Server;

  constructor(
    readonly h1: http.Server,
    readonly h2: http2.Http2Server,
  ) {
    this.tcp = net.createServer((socket) => this.route(socket));
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

  private route(socket: net.Socket): void {
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      const isH2 = head.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      // Decide as soon as the bytes seen rule one protocol out.
      if (isH2 && n < H2_PREFACE.length) return;
      socket.off("data", onData);
      socket.off("error", onEarlyError);
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
    socket.on("data", onData);
    socket.on("error", onEarlyError);
  }
}
