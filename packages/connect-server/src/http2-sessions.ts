import type * as http2 from "node:http2";
import type * as net from "node:net";
import { type Clock, systemClock, type TimerHandle } from "./clock.js";
import type { Connection, ConnectionTable } from "./connection-table.js";
import { type Http2ConnectionPolicy, type StreamsRequests, TrackedSession } from "./http2-connection.js";
import type { Logger } from "./log.js";

/** Options of {@link Http2Sessions} beyond the policy. */
export interface Http2SessionsOptions {
  /** The server's connection table: each session charges its request bytes there. Default: none (no buffer limits). */
  readonly table?: ConnectionTable;
  /** Whether a path's method streams requests (so complete messages are handed on). Default: none does. */
  readonly streamsRequests?: StreamsRequests;
  /** The clock of the policy's timers and sweep. Default: {@link systemClock}. */
  readonly clock?: Clock;
}

/**
 * Every HTTP/2 connection of a server, each a {@link TrackedSession} that
 * owns its policy state; this class feeds them their events and sweeps
 * their timers. One sweep timer serves every connection (unref'd: it never
 * keeps the process alive), so a call costs a few stream listeners and no
 * timer.
 */
export class Http2Sessions {
  private readonly sessions = new Map<http2.ServerHttp2Session, TrackedSession>();
  private readonly sweepTimer: TimerHandle;
  private readonly clock: Clock;

  constructor(
    private readonly policy: Http2ConnectionPolicy,
    private readonly logger: Logger,
    private readonly options: Http2SessionsOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.sweepTimer = this.clock.setInterval(() => this.sweep(), sweepIntervalMs(policy));
    this.sweepTimer.unref();
  }

  /** Open connections. */
  get size(): number {
    return this.sessions.size;
  }

  /** Calls still open on any connection. */
  get openStreams(): number {
    let n = 0;
    for (const tracked of this.sessions.values()) n += tracked.streams.size;
    return n;
  }

  /**
   * Starts tracking a new connection (the server's "session" event), with
   * its record in the connection table if it has one (`session.socket` is a
   * proxy, so the caller, who saw the real socket, looks it up).
   */
  add(session: http2.ServerHttp2Session, connection?: Connection): void {
    const tracked = new TrackedSession(
      session,
      this.policy,
      this.logger,
      this.clock,
      this.options.table,
      connection,
      this.options.streamsRequests ?? (() => false),
    );
    this.sessions.set(session, tracked);
    session.once("close", () => this.sessions.delete(session));
    session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) =>
      tracked.streamOpened(stream, headers),
    );
    session.on("ping", () => tracked.clientPinged());
    // A session error is the client's doing (a flood, a protocol error):
    // Node tears the session down; make sure the socket goes with it.
    session.on("error", (err: NodeJS.ErrnoException) => {
      tracked.cut("http2 connection error", { code: err.code, err });
    });
  }

  /**
   * Tracks every session `server` makes, each with its record in the
   * connection table (found by the real socket: `session.socket` is a
   * proxy, and Node turns the socket into a session within the same
   * "connection" event).
   */
  attach(server: http2.Http2Server): void {
    let handedOver: Connection | undefined;
    server.prependListener("connection", (socket: net.Socket) => {
      handedOver = this.options.table?.connectionOf(socket);
    });
    server.on("session", (session) => {
      this.add(session, handedOver);
      handedOver = undefined;
    });
  }

  /** Sends GOAWAY to every connection: no new calls; each closes once its calls end. */
  goawayAll(): void {
    for (const tracked of this.sessions.values()) tracked.goaway();
  }

  /**
   * Ends every call still open with UNAVAILABLE (see
   * {@link TrackedSession.refuseAll}) and destroys every connection.
   * Returns how many connections were cut.
   */
  cutAll(reason: string): number {
    const cut = this.sessions.size;
    for (const tracked of this.sessions.values()) tracked.refuseAll(reason);
    return cut;
  }

  /** Stops the sweep timer (the sessions themselves are closed by the caller). */
  stop(): void {
    this.clock.clearInterval(this.sweepTimer);
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const tracked of this.sessions.values()) tracked.sweep(now);
  }
}

/** How often to sweep: a tenth of the shortest period, so timers fire at most 10 % late. */
export function sweepIntervalMs(policy: Http2ConnectionPolicy): number {
  const periods = [
    policy.idleTimeoutMs,
    policy.keepaliveTimeMs,
    policy.keepaliveTimeoutMs,
    policy.requestIdleTimeoutMs,
  ].filter((t) => t > 0);
  return Math.max(10, Math.min(1000, ...periods.map((t) => t / 10)));
}
