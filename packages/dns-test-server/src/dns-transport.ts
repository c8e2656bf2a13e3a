/**
 * The embedded DNS server's sockets: UDP and TCP bound to the same port,
 * and the framing of DNS messages over TCP.
 */
import * as dgram from "node:dgram";
import * as net from "node:net";

/** A UDP socket and a TCP server listening on the same port. */
export interface Listeners {
  udp: dgram.Socket;
  tcp: net.Server;
  port: number;
}

/** Binds UDP and TCP on the same port; with port 0, retries until a port is free for both. */
export async function listen(host: string, requestedPort: number): Promise<Listeners> {
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

/** Closes the UDP socket and the TCP server (not its connections); resolves once both are closed. */
export async function closeListeners({ udp, tcp }: Listeners): Promise<void> {
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

/**
 * Answers the DNS messages of one TCP connection: messages framed by a
 * 2-byte length prefix (RFC 1035, 4.2.2), any number per connection,
 * arriving in chunks of any size. Responses go in the order of the
 * queries; `respond` returns undefined to send none.
 */
export function answerTcpMessages(
  socket: net.Socket,
  respond: (message: Buffer) => Buffer | undefined,
): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (pending.length < 2 + length) break;
      const message = pending.subarray(2, 2 + length);
      pending = pending.subarray(2 + length);
      const response = respond(message);
      if (response && socket.writable) {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(response.length);
        socket.write(Buffer.concat([prefix, response]));
      }
    }
  });
}
