import type * as http from "node:http";
import type * as net from "node:net";
import { type Connection, type ConnectionTable, queuedWriteBytes } from "./connection-table.js";
import { type Logger, remoteOf } from "./log.js";

/**
 * The server's HTTP/1.1 connections: which are answering a request (busy)
 * and which are idle or still sending headers, for a drain (which closes
 * idle ones at once) and for the connection table (which closes idle ones
 * to make room, and measures what each holds for its peer).
 */
export class Http1Connections {
  private readonly sockets = new Set<net.Socket>();
  /** Sockets with a request being answered. */
  private readonly busy = new WeakSet<net.Socket>();
  private draining = false;

  constructor(
    private readonly table: ConnectionTable,
    private readonly logger: Logger,
  ) {}

  /** Open connections. */
  get size(): number {
    return this.sockets.size;
  }

  /** A new HTTP/1.1 connection (the server's "connection" event). */
  add(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    const connection = this.table.connectionOf(socket);
    if (connection === undefined) return;
    connection.owner = {
      idle: () => !this.busy.has(socket),
      queuedResponseBytes: () => queuedWriteBytes(socket),
      cut: (msg, fields) => {
        this.logger.log("warn", msg, { remote: remoteOf(socket), ...fields });
        socket.destroy();
      },
      close: () => socket.destroy(),
    };
  }

  /**
   * A request arrived: its socket is busy until the response closes.
   * During a drain the connection closes after this response.
   */
  requestStarted(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.draining) res.setHeader("Connection", "close");
    // A client that goes away mid-request makes Node emit 'error'
    // ("aborted") on a request no handler may ever read (connect answers
    // some before reading their body): without a listener that is an
    // uncaught exception. The handler that reads the body sees the abort.
    req.on("error", ignore);
    const socket = req.socket;
    this.busy.add(socket);
    res.once("close", () => this.busy.delete(socket));
    // A handler may answer before it has read the whole body (connect does,
    // for an envelope over its size limit, and then destroys the request).
    // Node then never reads this connection again: the next pipelined
    // request waits for a body no one will consume, and the socket sat in
    // CLOSE_WAIT after the client left (found by the fuzzer). The
    // connection cannot go on, so it closes once the response is written.
    res.once("finish", () => {
      if (!req.complete) socket.destroySoon();
    });
  }

  /** The table's record of the request's connection, to charge its body to. */
  connectionOf(req: http.IncomingMessage): Connection | undefined {
    return this.table.connectionOf(req.socket);
  }

  /** From now on, connections close after their current response. */
  startDrain(): void {
    this.draining = true;
  }

  /** Closes every connection with no request being answered. */
  closeIdle(): void {
    for (const socket of this.sockets) if (!this.busy.has(socket)) socket.destroy();
  }

  /** Closes every connection. */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

function ignore(): void {}
