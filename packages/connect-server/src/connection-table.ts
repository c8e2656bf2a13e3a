import type * as net from "node:net";
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import type { Logger } from "./log.js";

/** The limits a {@link ConnectionTable} keeps. 0 turns a limit off. */
export interface ConnectionLimits {
  /**
   * Most open connections. At the cap a new connection makes room by
   * closing the oldest idle connection (no call open) of the client that
   * holds the most; it is refused only when every connection has a call.
   */
  readonly maxConnections: number;
  /** Most open connections from one client address; the same room-making rule applies. */
  readonly maxConnectionsPerClient: number;
  /**
   * Most bytes one connection may make the server hold: request bytes the
   * application cannot act on yet (unfinished unary bodies, incomplete
   * messages) plus response bytes the peer has not taken. Past it the
   * connection is cut, with a log line saying why.
   */
  readonly maxConnectionBufferBytes: number;
  /** The same, summed over every connection of the process; past it the connection holding the most is cut. */
  readonly maxBufferBytes: number;
}

/** What the table asks of whoever serves a connection (the HTTP/1.1 or HTTP/2 side, or the protocol detector). */
export interface ConnectionOwner {
  /** True when no call is open on the connection: closing it cuts no call. */
  idle(): boolean;
  /** Response bytes queued for the peer and not yet taken by it (see {@link queuedWriteBytes}). */
  queuedResponseBytes(): number;
  /** Cuts the connection now (it broke a limit), logging `msg` and `fields` as the reason. */
  cut(msg: string, fields: Record<string, unknown>): void;
  /** Closes the idle connection now, to make room (the table logs these, counted). */
  close(): void;
}

/**
 * Heap a queued write costs beyond its bytes, as measured on Node 20-24
 * with connect-node writing small streamed messages (about 1 KiB per
 * queued write: the chunk, its callback and connect's promise). Counting
 * it makes a peer that reads nothing pay for what it really costs: 16 KiB
 * of 40-byte messages is 400 queued writes and about 400 KiB of heap.
 */
const QUEUED_WRITE_OVERHEAD = 1024;

/** The bytes `writable` holds for its peer, each queued write charged its heap overhead too. */
export function queuedWriteBytes(writable: {
  readonly writableLength: number;
  readonly writableBuffer?: readonly unknown[];
}): number {
  const bytes = writable.writableLength;
  if (bytes === 0) return 0;
  return bytes + (writable.writableBuffer?.length ?? 1) * QUEUED_WRITE_OVERHEAD;
}

/** One accepted connection, as the table sees it. */
export class Connection {
  /** Request bytes held for this connection's calls. */
  requestBytes = 0;
  /** Response bytes queued for its peer, as of the last sweep. */
  responseBytes = 0;
  /** Cut by the table: its bytes no longer count, and it is closing. */
  cut = false;
  /** Who serves it: the detector until the protocol is known. */
  owner: ConnectionOwner;

  constructor(
    /** The socket the connection is served on: the accepted one, or the TLS socket over it once the handshake is done. */
    public socket: net.Socket,
    /** The peer's address, without the port. */
    readonly client: string,
    readonly openedAt: number,
  ) {
    this.owner = {
      idle: () => true,
      queuedResponseBytes: () => 0,
      cut: () => socket.destroy(),
      close: () => socket.destroy(),
    };
  }

  /** Bytes this connection makes the server hold. */
  get held(): number {
    return this.requestBytes + this.responseBytes;
  }
}

/** How often response buffers are measured. */
const SWEEP_MS = 100;
/** At most one "refused" / "made room" log line per this period, with counts. */
const LOG_PERIOD_MS = 1000;

/**
 * Every connection of a server, from accept to close, whatever its
 * protocol, and the limits that no one client may push the process past:
 * how many connections (overall and per client address), and how many
 * bytes are held for them (per connection and overall).
 *
 * Connection caps make room rather than refuse: a client hoarding idle
 * connections loses its oldest one to each newcomer, so health probes and
 * other clients still get in. Buffer limits cut the offending connection:
 * request bytes are charged as they arrive ({@link chargeRequest}),
 * response bytes are measured by a sweep every 100 ms.
 */
export class ConnectionTable {
  private readonly bySocket = new Map<net.Socket, Connection>();
  /** Per client address, its connections in the order they opened (oldest first). */
  private readonly byClient = new Map<string, Set<Connection>>();
  private heldTotal = 0;
  private readonly sweepTimer: TimerHandle | undefined;
  private readonly counts = { refused: 0, evicted: 0 };
  /** The cap that made room last, for the log line. */
  private evictedBy = "";
  private logTimer: TimerHandle | undefined;

  /**
   * @param limits - the caps and buffer limits to enforce.
   * @param logger - where cuts and refusals are logged.
   * @param clock - the clock of the sweep, the log period and each connection's `openedAt`. Default: {@link systemClock}.
   */
  constructor(
    private readonly limits: ConnectionLimits,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    if (limits.maxConnectionBufferBytes > 0 || limits.maxBufferBytes > 0) {
      this.sweepTimer = this.clock.setInterval(() => this.sweep(), SWEEP_MS);
      this.sweepTimer.unref();
    }
  }

  /** Open connections. */
  get size(): number {
    return this.bySocket.size;
  }

  /** Bytes held for every connection together. */
  get heldBytes(): number {
    return this.heldTotal;
  }

  /** The table's record of `socket`, if it was admitted and is still open. */
  connectionOf(socket: net.Socket | undefined): Connection | undefined {
    return socket === undefined ? undefined : this.bySocket.get(socket);
  }

  /**
   * A new connection: admits it (making room if a cap is reached) and
   * tracks it until it closes, or returns undefined when no room can be made
   * (the caller closes it).
   */
  admit(socket: net.Socket): Connection | undefined {
    const client = socket.remoteAddress ?? "?";
    const { maxConnections, maxConnectionsPerClient } = this.limits;
    const mine = this.byClient.get(client);
    if (maxConnectionsPerClient > 0 && (mine?.size ?? 0) >= maxConnectionsPerClient) {
      if (!this.evictIdle(mine, "--max-connections-per-client")) return this.refuse();
    }
    if (maxConnections > 0 && this.bySocket.size >= maxConnections) {
      if (
        !this.evictIdle(this.largestClient(), "--max-connections") &&
        !this.evictIdle(this.bySocket.values(), "--max-connections")
      ) {
        return this.refuse();
      }
    }
    const connection = new Connection(socket, client, this.clock.now());
    this.bySocket.set(socket, connection);
    let set = mine;
    if (set === undefined) {
      set = new Set();
      this.byClient.set(client, set);
    }
    set.add(connection);
    socket.once("close", () => this.forget(connection));
    return connection;
  }

  /**
   * From now on `connection` is served on `socket`, a socket layered over
   * the accepted one (TLS): lookups by it find the connection. Returns
   * false if the connection has closed or been cut meanwhile.
   */
  rebind(connection: Connection, socket: net.Socket): boolean {
    if (connection.cut || this.bySocket.get(connection.socket) !== connection) return false;
    this.bySocket.delete(connection.socket);
    connection.socket = socket;
    this.bySocket.set(socket, connection);
    return true;
  }

  /**
   * Request bytes held for `connection` changed by `delta` (a chunk came
   * in, or a message was handed on). Cuts the connection, or the process's
   * largest, when that crosses a limit; returns false if `connection` is
   * cut (its caller should stop reading for it).
   */
  chargeRequest(connection: Connection, delta: number): boolean {
    if (connection.cut) return false;
    connection.requestBytes += delta;
    this.heldTotal += delta;
    if (delta > 0) this.enforce(connection);
    return !connection.cut;
  }

  /** Stops the sweep (connections are closed by their owners). */
  stop(): void {
    this.clock.clearInterval(this.sweepTimer);
  }

  /** Measures every connection's queued response bytes and enforces the buffer limits. */
  sweep(): void {
    for (const connection of this.bySocket.values()) {
      if (connection.cut) continue;
      const bytes = connection.owner.queuedResponseBytes();
      this.heldTotal += bytes - connection.responseBytes;
      connection.responseBytes = bytes;
      if (bytes > 0) this.enforce(connection);
    }
  }

  private enforce(connection: Connection): void {
    const { maxConnectionBufferBytes, maxBufferBytes } = this.limits;
    if (maxConnectionBufferBytes > 0 && connection.held > maxConnectionBufferBytes) {
      this.cut(connection, "connection cut: it holds more than --max-connection-buffer-bytes", {
        maxConnectionBufferBytes,
      });
    }
    while (maxBufferBytes > 0 && this.heldTotal > maxBufferBytes) {
      let largest: Connection | undefined;
      for (const c of this.bySocket.values()) if (!c.cut && c.held > (largest?.held ?? 0)) largest = c;
      if (largest === undefined) break;
      this.cut(
        largest,
        "connection cut: the server holds more than --max-buffer-bytes, and it holds the most",
        {
          maxBufferBytes,
          heldBytes: this.heldTotal,
        },
      );
    }
  }

  private cut(connection: Connection, msg: string, fields: Record<string, unknown>): void {
    connection.cut = true;
    this.heldTotal -= connection.held;
    connection.owner.cut(msg, {
      ...fields,
      requestBytes: connection.requestBytes,
      responseBytes: connection.responseBytes,
    });
  }

  /** Closes the oldest idle connection among `candidates`; false if none is idle. */
  private evictIdle(candidates: Iterable<Connection> | undefined, cap: string): boolean {
    if (candidates === undefined) return false;
    for (const c of candidates) {
      if (c.cut || !c.owner.idle()) continue;
      c.cut = true;
      this.heldTotal -= c.held;
      c.owner.close();
      this.counts.evicted++;
      this.evictedBy = cap;
      this.scheduleLog();
      // Closing is asynchronous: forget it now so that the count has room.
      this.forget(c);
      return true;
    }
    return false;
  }

  /** The connections of the client address holding the most. */
  private largestClient(): Set<Connection> | undefined {
    let largest: Set<Connection> | undefined;
    for (const set of this.byClient.values()) if (set.size > (largest?.size ?? 0)) largest = set;
    return largest;
  }

  private refuse(): undefined {
    this.counts.refused++;
    this.scheduleLog();
    return undefined;
  }

  private forget(connection: Connection): void {
    if (this.bySocket.get(connection.socket) !== connection) return;
    this.bySocket.delete(connection.socket);
    if (!connection.cut) this.heldTotal -= connection.held;
    const set = this.byClient.get(connection.client);
    set?.delete(connection);
    if (set?.size === 0) this.byClient.delete(connection.client);
  }

  /** One line a second at most, however many connections a flood brings. */
  private scheduleLog(): void {
    if (this.logTimer) return;
    this.logTimer = this.clock.setTimeout(() => {
      this.logger.log("warn", "at a connection cap: closed idle connections to make room, or refused", {
        evicted: this.counts.evicted,
        cap: this.evictedBy,
        refused: this.counts.refused,
        maxConnections: this.limits.maxConnections,
        maxConnectionsPerClient: this.limits.maxConnectionsPerClient,
      });
      this.counts.evicted = 0;
      this.counts.refused = 0;
      this.logTimer = undefined;
    }, LOG_PERIOD_MS);
    this.logTimer.unref();
  }
}
