import * as http2 from "node:http2";
import { percentEncodeGrpcMessage } from "./grpc-message.js";
import type { Logger } from "./log.js";

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM, NGHTTP2_NO_ERROR } = http2.constants;

/** How the server treats each HTTP/2 connection. Every duration is in milliseconds; 0 turns a timer off. */
export interface Http2ConnectionPolicy {
  /** GOAWAY a connection that has had no call for this long (grpc-go's MaxConnectionIdle, gRFC A9). */
  readonly idleTimeoutMs: number;
  /** GOAWAY a connection this old, ±10 % jitter (MaxConnectionAge), so clients re-resolve DNS. */
  readonly maxConnectionAgeMs: number;
  /** After max age, how long calls may finish before the connection is cut (MaxConnectionAgeGrace). */
  readonly maxConnectionAgeGraceMs: number;
  /** Send a PING this often; a peer that does not answer within `keepaliveTimeoutMs` is cut. */
  readonly keepaliveTimeMs: number;
  /** How long a PING may go unanswered. */
  readonly keepaliveTimeoutMs: number;
  /**
   * Ping enforcement (grpc-go's EnforcementPolicy.MinTime): a client that
   * pings more often than this, with no data sent in between, earns a
   * strike; the third strike gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
   */
  readonly keepaliveMinTimeMs: number;
  /** Allow pings while no call is open (PermitWithoutStream); if false, the minimum is 2 h then. */
  readonly keepalivePermitWithoutCalls: boolean;
}

/** Pings earned beyond this many strikes close the connection (grpc-go's maxPingStrikes). */
const MAX_PING_STRIKES = 2;
/** grpc-go's minimum interval for pings on a connection with no call, when PermitWithoutStream is off. */
const NO_CALL_PING_MIN_MS = 2 * 60 * 60 * 1000;
/** A PING ACK (or PING) frame: 9 bytes of header, 8 of payload. */
const PING_FRAME_BYTES = 17;
/** Streams reset by the client between two probe pings (see `onStreamClose`). */
const RESETS_PER_PROBE = 100;
/**
 * Our rapid-reset budget, the shape of nghttp2's own (burst 1000, 33/s;
 * CVE-2023-44487): when it runs out the connection is destroyed, because
 * nghttp2 at that point sends GOAWAY and stops reading but never closes
 * the socket, and Node 20 gives no event for it.
 */
const RESET_BURST = 1000;
const RESET_RATE_PER_S = 33;

/** What the tracker knows of one connection. */
interface SessionState {
  readonly session: http2.ServerHttp2Session;
  /** Open streams, each with whether it is a gRPC call (not gRPC-Web, not Connect). */
  readonly streams: Map<http2.ServerHttp2Stream, boolean>;
  readonly opened: number;
  /** When the last call ended (or the connection opened), for the idle timeout. */
  idleSince: number;
  /** Set by our own PING while unanswered: when it was sent. */
  pingSentAt: number | undefined;
  lastKeepaliveAt: number;
  /** Ping enforcement: when the client last pinged, and the socket's bytes written then. */
  lastClientPingAt: number;
  bytesWrittenAtClientPing: number;
  ownPingsSinceClientPing: number;
  pingStrikes: number;
  /** Rapid-reset accounting: a token bucket refilled at RESET_RATE_PER_S. */
  resetTokens: number;
  resetTokensAt: number;
  resetsSinceProbe: number;
  closing: boolean;
}

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
    const periods = [policy.idleTimeoutMs, policy.keepaliveTimeMs, policy.keepaliveTimeoutMs].filter(
      (t) => t > 0,
    );
    // A tenth of the shortest period: timers fire at most 10 % late.
    const sweepMs = Math.max(10, Math.min(1000, ...periods.map((t) => t / 10)));
    this.sweepTimer = setInterval(() => this.sweep(), sweepMs);
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
    session.on("ping", () => this.onClientPing(state));
    // A session error is the client's doing (a flood, a protocol error):
    // Node tears the session down; make sure the socket goes with it.
    session.on("error", (err: NodeJS.ErrnoException) => {
      this.cut(state, "http2 connection error", { code: err.code, err });
    });
    if (this.policy.maxConnectionAgeMs > 0) this.scheduleMaxAge(state);
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
      for (const [stream, grpc] of state.streams) refuse(stream, grpc, reason);
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
    const now = Date.now();
    state.resetTokens = Math.min(
      RESET_BURST,
      state.resetTokens + ((now - state.resetTokensAt) * RESET_RATE_PER_S) / 1000,
    );
    state.resetTokensAt = now;
    if (--state.resetTokens < 0) {
      this.cut(state, "http2 connection destroyed: rapid reset (too many streams reset by the client)", {
        burst: RESET_BURST,
        ratePerSecond: RESET_RATE_PER_S,
      });
      return;
    }
    // Every so many resets, check that the session still answers: nghttp2
    // may have given up on it (its own limits), leaving a silent socket.
    if (++state.resetsSinceProbe >= RESETS_PER_PROBE && state.pingSentAt === undefined) {
      state.resetsSinceProbe = 0;
      this.ping(state);
    }
  }

  /** Ping enforcement, as grpc-go's server does it (handlePing in http2_server.go). */
  private onClientPing(state: SessionState): void {
    const now = Date.now();
    const written = state.session.socket?.bytesWritten ?? 0;
    // Our PING ACKs and our own PINGs aside, did the server send anything
    // (headers, data) since the last client ping? Then the ping is fine:
    // gRPC clients ping to measure bandwidth (BDP) while receiving data.
    const framesOfPings = PING_FRAME_BYTES * (1 + state.ownPingsSinceClientPing);
    const sentData = written - state.bytesWrittenAtClientPing > framesOfPings;
    const minTime =
      state.streams.size > 0 || this.policy.keepalivePermitWithoutCalls
        ? this.policy.keepaliveMinTimeMs
        : NO_CALL_PING_MIN_MS;
    if (sentData) state.pingStrikes = 0;
    else if (now - state.lastClientPingAt < minTime) state.pingStrikes++;
    state.lastClientPingAt = now;
    state.bytesWrittenAtClientPing = written;
    state.ownPingsSinceClientPing = 0;
    if (state.pingStrikes > MAX_PING_STRIKES && !state.closing) {
      state.closing = true;
      this.logger.log("warn", "http2 connection closed: too many pings", {
        remote: remoteOf(state.session),
        keepaliveMinTimeMs: minTime,
      });
      state.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from("too_many_pings"));
      // grpc-go closes the connection with the GOAWAY; give the frame a moment to leave.
      setTimeout(() => state.session.destroy(), 100).unref();
    }
  }

  private ping(state: SessionState): void {
    const sentAt = Date.now();
    state.pingSentAt = sentAt;
    state.ownPingsSinceClientPing++;
    try {
      state.session.ping((err) => {
        if (state.pingSentAt === sentAt) state.pingSentAt = undefined;
        if (err) this.cut(state, "http2 connection destroyed: ping failed", { err });
      });
    } catch {
      // The session is closing or destroyed; the sweep forgets it on "close".
      state.pingSentAt = undefined;
    }
  }

  private sweep(): void {
    const now = Date.now();
    const { idleTimeoutMs, keepaliveTimeMs, keepaliveTimeoutMs } = this.policy;
    for (const state of this.sessions.values()) {
      if (state.session.destroyed) continue;
      if (state.pingSentAt !== undefined && now - state.pingSentAt > keepaliveTimeoutMs) {
        this.cut(state, "http2 connection destroyed: ping not answered", { keepaliveTimeoutMs });
        continue;
      }
      if (
        idleTimeoutMs > 0 &&
        !state.closing &&
        state.streams.size === 0 &&
        now - state.idleSince >= idleTimeoutMs
      ) {
        state.closing = true;
        this.logger.log("debug", "http2 connection idle: GOAWAY", {
          remote: remoteOf(state.session),
          idleTimeoutMs,
        });
        state.session.close();
        continue;
      }
      if (
        keepaliveTimeMs > 0 &&
        state.pingSentAt === undefined &&
        now - state.lastKeepaliveAt >= keepaliveTimeMs
      ) {
        state.lastKeepaliveAt = now;
        this.ping(state);
      }
    }
  }

  private cut(state: SessionState, msg: string, fields: Record<string, unknown>): void {
    if (state.session.destroyed) return;
    this.logger.log("warn", msg, { remote: remoteOf(state.session), ...fields });
    state.closing = true;
    state.session.destroy();
    // destroy() ends the session; this makes sure the file descriptor goes too.
    state.session.socket?.destroy();
  }

  private scheduleMaxAge(state: SessionState): void {
    const { maxConnectionAgeMs, maxConnectionAgeGraceMs } = this.policy;
    const jittered = maxConnectionAgeMs * (0.9 + Math.random() * 0.2);
    const ageTimer = setTimeout(() => {
      state.closing = true;
      state.session.close();
      const graceTimer = setTimeout(() => state.session.destroy(), maxConnectionAgeGraceMs);
      graceTimer.unref();
      state.session.once("close", () => clearTimeout(graceTimer));
    }, jittered);
    ageTimer.unref();
    state.session.once("close", () => clearTimeout(ageTimer));
  }
}

/** Ends one stream with a status that says "not served here, retry elsewhere". */
function refuse(stream: http2.ServerHttp2Stream, grpc: boolean, reason: string): void {
  if (stream.destroyed || stream.closed) return;
  if (grpc && !stream.headersSent) {
    try {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": "14",
          "grpc-message": percentEncodeGrpcMessage(reason),
        },
        { endStream: true },
      );
      return;
    } catch {
      // Fall through to the reset: the stream was in no state to answer.
    }
  }
  stream.close(NGHTTP2_REFUSED_STREAM);
}

/** gRPC over HTTP/2 (application/grpc, +proto, +json...), not gRPC-Web. */
function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(\+|;|$)/.test(contentType);
}

function remoteOf(session: http2.ServerHttp2Session): string {
  const s = session.socket;
  return s ? `${s.remoteAddress}:${s.remotePort}` : "?";
}
