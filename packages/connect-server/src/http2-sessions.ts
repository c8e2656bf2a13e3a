import * as http2 from "node:http2";
import type { Http2ConnectionPolicy } from "./http2-connection-policy.js";
import { scheduleMaxAge, sweepIntervalMs, sweepSession } from "./http2-connection-timers.js";
import { enforcePingPolicy } from "./http2-pings.js";
import { chargeClientReset, RESET_BURST } from "./http2-rapid-reset.js";
import { isGrpc, refuseStream } from "./http2-refuse.js";
import { cutSession, type SessionState } from "./http2-session-state.js";
import type { Logger } from "./log.js";

const { NGHTTP2_NO_ERROR } = http2.constants;

/**
 * Tracks every HTTP/2 connection of a server and enforces its policy:
 * idle timeout, max age, keepalive, ping enforcement, and the cut of
 * connections that trip a flood or rapid-reset defence. One sweep timer
 * serves every connection (unref'd: it never keeps the process alive), so
 * a call costs one stream listener and no timer.
 */
export class Http2Sessions {
  private readonly sessions = new Map<http2.ServerHttp2Session, SessionState>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(
    private readonly policy: Http2ConnectionPolicy,
    private readonly logger: Logger,
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalMs(policy));
    this.sweepTimer.unref();
  }

  /** Open connections. */
  get size(): number {
    return this.sessions.size;
  }

  /** Starts tracking a new connection (the server's "session" event). */
  add(session: http2.ServerHttp2Session): void {
    const now = Date.now();
    const state: SessionState = {
      session,
      streams: new Map(),
      opened: now,
      idleSince: now,
      pingSentAt: undefined,
      lastKeepaliveAt: now,
      lastClientPingAt: now,
      bytesWrittenAtClientPing: 0,
      ownPingsSinceClientPing: 0,
      pingStrikes: 0,
      resetTokens: RESET_BURST,
      resetTokensAt: now,
      resetsSinceProbe: 0,
      closing: false,
    };
    this.sessions.set(session, state);
    session.once("close", () => this.sessions.delete(session));
    session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      state.streams.set(stream, isGrpc(headers["content-type"]));
      stream.once("close", () => this.onStreamClose(state, stream));
    });
    session.on("ping", () => enforcePingPolicy(state, this.policy, this.logger));
    // A session error is the client's doing (a flood, a protocol error):
    // Node tears the session down; make sure the socket goes with it.
    session.on("error", (err: NodeJS.ErrnoException) => {
      cutSession(state, this.logger, "http2 connection error", { code: err.code, err });
    });
    if (this.policy.maxConnectionAgeMs > 0) scheduleMaxAge(state, this.policy);
  }

  /** Sends GOAWAY to every connection: no new calls; each closes once its calls end. */
  goawayAll(): void {
    for (const state of this.sessions.values()) {
      state.closing = true;
      state.session.close();
    }
  }

  /** Calls still open on any connection. */
  get openStreams(): number {
    let n = 0;
    for (const state of this.sessions.values()) n += state.streams.size;
    return n;
  }

  /**
   * Ends every call still open so that the client knows it may retry
   * elsewhere: a gRPC call that has not answered yet gets a trailers-only
   * UNAVAILABLE; any other stream is reset with REFUSED_STREAM, which
   * gRPC and Connect clients read as UNAVAILABLE. Then destroys every
   * connection. Returns how many connections were cut.
   */
  cutAll(reason: string): number {
    const cut = this.sessions.size;
    for (const state of this.sessions.values()) {
      for (const [stream, grpc] of state.streams) refuseStream(stream, grpc, reason);
      // Let nghttp2 flush the frames above before the socket goes.
      setImmediate(() => state.session.destroy());
    }
    return cut;
  }

  /** Stops the sweep timer (the sessions themselves are closed by the caller). */
  stop(): void {
    clearInterval(this.sweepTimer);
  }

  private onStreamClose(state: SessionState, stream: http2.ServerHttp2Stream): void {
    state.streams.delete(stream);
    if (state.streams.size === 0) state.idleSince = Date.now();
    // A non-zero code on a stream we did not reset ourselves is a client
    // RST_STREAM: a cancel, or a rapid-reset attack (many, fast).
    if (stream.rstCode === undefined || stream.rstCode === NGHTTP2_NO_ERROR) return;
    chargeClientReset(state, this.logger);
  }

  private sweep(): void {
    const now = Date.now();
    for (const state of this.sessions.values()) {
      if (!state.session.destroyed) sweepSession(state, this.policy, this.logger, now);
    }
  }
}
