import * as http from "node:http";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import { type Connection, type ConnectionTable, queuedWriteBytes } from "./connection-table.js";
import { type Logger, remoteOf } from "./log.js";

/** Node's HTTP/1.1 timeouts, in milliseconds (see the server's `http1*TimeoutMs` settings). */
export interface Http1Timeouts {
  /** Time to receive a request's headers (Node's headersTimeout). */
  readonly http1HeadersTimeoutMs: number;
  /** Time to receive a whole request (Node's requestTimeout). */
  readonly http1RequestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open (Node's keepAliveTimeout). */
  readonly http1KeepaliveTimeoutMs: number;
}

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

  /**
   * How an HTTP/1.1 request's body bytes are charged to its connection's
   * buffer limits (connect-handler's `chargeRequestBytes`); undefined for an
   * HTTP/2 request (its session charges them) or an untracked connection.
   */
  requestCharger(
    req: http.IncomingMessage | http2.Http2ServerRequest,
  ): ((delta: number) => boolean) | undefined {
    if (req.httpVersionMajor !== 1) return undefined;
    const connection = this.connectionOf(req as http.IncomingMessage);
    return connection && ((delta) => this.table.chargeRequest(connection, delta));
  }

  /**
   * An HTTP/1.1 server whose connections this tracks, serving `handler`
   * with Node's timeouts. It never listens: the listener hands it the
   * sockets that spoke HTTP/1.1.
   */
  createServer(timeouts: Http1Timeouts, handler: http.RequestListener): http.Server {
    const server = http.createServer(
      {
        headersTimeout: timeouts.http1HeadersTimeoutMs,
        requestTimeout: timeouts.http1RequestTimeoutMs,
        keepAliveTimeout: timeouts.http1KeepaliveTimeoutMs,
        // Node checks the two timeouts above on this period (default 30 s).
        connectionsCheckingInterval: Math.max(50, Math.min(1000, timeouts.http1HeadersTimeoutMs / 4)),
      },
      (req, res) => {
        this.requestStarted(req, res);
        handler(req, res);
      },
    );
    server.on("connection", (socket: net.Socket) => this.add(socket));
    return server;
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
