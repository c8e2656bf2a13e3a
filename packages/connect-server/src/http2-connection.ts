import * as http2 from "node:http2";
import type { Readable } from "node:stream";
import { Code } from "@connectrpc/connect";
import type { Clock, TimerHandle } from "./clock.js";
import {
  type Connection,
  type ConnectionOwner,
  type ConnectionTable,
  queuedWriteBytes,
} from "./connection-table.js";
import { percentEncodeGrpcMessage } from "./grpc-message.js";
import { type Logger, remoteOf } from "./log.js";
import { HeldRequestBytes } from "./request-bytes.js";

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } =
  http2.constants;

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
  /**
   * A request whose body stalls this long is ended with DEADLINE_EXCEEDED:
   * a unary request that has not ended, or a streaming request in the
   * middle of a message. 0 disables.
   */
  readonly requestIdleTimeoutMs: number;
}

/** What the policy needs to know of a request path: whether its method streams requests. */
export type StreamsRequests = (path: string) => boolean;

/**
 * Our rapid-reset budget, the shape of nghttp2's own (burst 1000, 33/s;
 * CVE-2023-44487): when it runs out the connection is destroyed, because
 * nghttp2 at that point sends GOAWAY and stops reading but never closes
 * the socket, and Node 20 gives no event for it.
 */
export const RESET_BURST = 1000;
const RESET_RATE_PER_S = 33;
/** Streams reset by the client between two probe pings (see {@link TrackedSession.streamClosed}). */
const RESETS_PER_PROBE = 100;
/** Pings earned beyond this many strikes close the connection (grpc-go's maxPingStrikes). */
const MAX_PING_STRIKES = 2;
/** grpc-go's minimum interval for pings on a connection with no call, when PermitWithoutStream is off. */
const NO_CALL_PING_MIN_MS = 2 * 60 * 60 * 1000;
/** After a cut, how long the socket may take to close gracefully before it is destroyed. */
const HARD_DESTROY_MS = 1000;
/** After GOAWAY too_many_pings, how long the frame gets to leave before the connection is destroyed. */
const TOO_MANY_PINGS_DESTROY_MS = 100;
/** A PING ACK (or PING) frame: 9 bytes of header, 8 of payload. */
const PING_FRAME_BYTES = 17;

/** One open stream of a {@link TrackedSession}. */
class TrackedStream {
  /** Request bytes received and not handed on to the application yet. */
  readonly held: HeldRequestBytes;
  /** When the last request byte arrived (or the stream opened). */
  lastDataAt: number;
  /** The request body ended (END_STREAM). */
  ended = false;

  constructor(
    readonly owner: TrackedSession,
    /** The request's :path, for logs. */
    readonly path: string,
    /** gRPC over HTTP/2 (not gRPC-Web, not Connect): a trailers-only status can end it. */
    readonly grpc: boolean,
    /** The application keeps the whole body until it ends (unary methods, Connect unary). */
    readonly wholeBody: boolean,
    now: number,
  ) {
    this.held = new HeldRequestBytes(wholeBody);
    this.lastDataAt = now;
  }
}

// Stream events go to listener functions shared by every stream (no
// closure per stream): `this` is the stream, its record hangs off it.
const kTracked = Symbol("trackedStream");
type Stream = http2.ServerHttp2Stream & { [kTracked]?: TrackedStream };

/** Server stream prototypes whose `push` counts the chunks of tracked streams. */
const countingPrototypes = new WeakSet<object>();

/**
 * Makes `push` on the class of `stream` (Node's ServerHttp2Stream, which
 * is not exported) report each chunk of a tracked stream, once per class:
 * patching the prototype rather than each stream keeps every stream the
 * same shape for V8. Streams that are not tracked push as before.
 */
function countPushes(stream: http2.ServerHttp2Stream): void {
  const proto = Object.getPrototypeOf(stream) as { push: Readable["push"] };
  if (countingPrototypes.has(proto)) return;
  countingPrototypes.add(proto);
  const push = proto.push;
  proto.push = function (this: Stream, chunk: unknown, encoding?: BufferEncoding): boolean {
    const t = this[kTracked];
    if (t !== undefined && chunk instanceof Uint8Array) t.owner.requestData(t, chunk as Buffer);
    return push.call(this, chunk, encoding);
  };
}

function onStreamEnd(this: Stream): void {
  const t = this[kTracked];
  if (t !== undefined) t.owner.requestEnded(t);
}

function onStreamClose(this: Stream): void {
  const t = this[kTracked];
  if (t !== undefined) t.owner.streamClosed(this, t);
}

/**
 * One HTTP/2 connection and everything the server's policy knows of it:
 * its open streams and the request bytes held for each, keepalive and
 * ping enforcement, the idle timeout and max age, the rapid-reset budget,
 * the request-idle timeout, and the cut. All of its state is here, changed
 * by its own methods only; {@link Http2Sessions} feeds it events and sweeps.
 *
 * A connection is never destroyed from inside a session or stream event:
 * those run while nghttp2 is still processing the same input, and
 * destroying the session there aborts the process (node_http2.cc's
 * CheckAllocatedSize). {@link cut} defers the destroy to a later turn.
 */
export class TrackedSession implements ConnectionOwner {
  readonly streams = new Map<http2.ServerHttp2Stream, TrackedStream>();
  /** When the last call ended (or the connection opened), for the idle timeout. */
  private idleSince: number;
  /** Set by our own PING while unanswered: when it was sent. */
  private pingSentAt: number | undefined;
  private lastKeepaliveAt: number;
  /** Ping enforcement: when the client last pinged, and the socket's bytes written then. */
  private lastClientPingAt: number;
  private bytesWrittenAtClientPing = 0;
  private ownPingsSinceClientPing = 0;
  private pingStrikes = 0;
  /** Rapid-reset accounting: a token bucket. */
  private resetTokens = RESET_BURST;
  private resetTokensAt: number;
  private resetsSinceProbe = 0;
  /** GOAWAY sent (drain, idle, max age, too many pings): no new calls. */
  private closing = false;
  private cutting = false;
  private maxAgeTimer: TimerHandle | undefined;

  constructor(
    readonly session: http2.ServerHttp2Session,
    private readonly policy: Http2ConnectionPolicy,
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** The connection table and this connection's record in it, for the buffer limits. */
    private readonly table: ConnectionTable | undefined,
    private readonly connection: Connection | undefined,
    private readonly streamsRequests: StreamsRequests,
  ) {
    const now = clock.now();
    this.idleSince = now;
    this.lastKeepaliveAt = now;
    this.lastClientPingAt = now;
    this.resetTokensAt = now;
    if (connection !== undefined) connection.owner = this;
    if (policy.maxConnectionAgeMs > 0) this.scheduleMaxAge();
    destroyOnALaterTurn(session);
  }

  /** The peer's address and port, for logs ("?" once the socket is gone). */
  get remote(): string {
    return remoteOf(this.session.socket);
  }

  // --- events (from Http2Sessions) ---------------------------------------

  /** A new stream (a call) opened. */
  streamOpened(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const contentType = headers["content-type"];
    const enveloped =
      contentType !== undefined &&
      (contentType.startsWith("application/grpc") || contentType.startsWith("application/connect+"));
    const path = headers[":path"] ?? "";
    const wholeBody = !enveloped || !this.streamsRequests(path);
    const t = new TrackedStream(this, path, isGrpc(contentType), wholeBody, this.clock.now());
    this.streams.set(stream, t);
    (stream as Stream)[kTracked] = t;
    // Counted as Node pushes each chunk into the stream, not with a 'data'
    // listener: that would start the flow before Http2ServerRequest adds its
    // own (on its first read), and the chunks would be lost to it.
    countPushes(stream);
    stream.once("end", onStreamEnd);
    stream.once("close", onStreamClose);
  }

  /** A chunk of a request body arrived: charge it to the connection's buffer limits. */
  requestData(t: TrackedStream, chunk: Buffer): void {
    t.lastDataAt = this.clock.now();
    const delta = t.held.push(chunk);
    if (delta !== 0 && this.connection !== undefined) this.table?.chargeRequest(this.connection, delta);
  }

  /** A request body ended: the application has every byte of it now. */
  requestEnded(t: TrackedStream): void {
    t.ended = true;
    this.release(t);
  }

  /**
   * A stream closed. A non-zero code on a stream we did not reset
   * ourselves is a client RST_STREAM: a cancel, or a rapid-reset attack
   * (many, fast), charged to the connection's reset budget.
   */
  streamClosed(stream: http2.ServerHttp2Stream, t: TrackedStream): void {
    this.release(t);
    this.streams.delete(stream);
    if (this.streams.size === 0) this.idleSince = this.clock.now();
    if (stream.rstCode === undefined || stream.rstCode === NGHTTP2_NO_ERROR) return;
    this.chargeClientReset();
  }

  /**
   * The client sent a PING: ping enforcement, as grpc-go's server does it
   * (handlePing in http2_server.go). A client that pings too often earns a
   * strike; past MAX_PING_STRIKES it gets GOAWAY ENHANCE_YOUR_CALM
   * "too_many_pings" and the connection closes.
   */
  clientPinged(): void {
    const now = this.clock.now();
    const written = this.session.socket?.bytesWritten ?? 0;
    // Our PING ACKs and our own PINGs aside, did the server send anything
    // (headers, data) since the last client ping? Then the ping is fine:
    // gRPC clients ping to measure bandwidth (BDP) while receiving data.
    const framesOfPings = PING_FRAME_BYTES * (1 + this.ownPingsSinceClientPing);
    const sentData = written - this.bytesWrittenAtClientPing > framesOfPings;
    const minTime =
      this.streams.size > 0 || this.policy.keepalivePermitWithoutCalls
        ? this.policy.keepaliveMinTimeMs
        : NO_CALL_PING_MIN_MS;
    if (sentData) this.pingStrikes = 0;
    else if (now - this.lastClientPingAt < minTime) this.pingStrikes++;
    this.lastClientPingAt = now;
    this.bytesWrittenAtClientPing = written;
    this.ownPingsSinceClientPing = 0;
    if (this.pingStrikes > MAX_PING_STRIKES && !this.closing) {
      this.closing = true;
      this.logger.log("warn", "http2 connection closed: too many pings", {
        remote: this.remote,
        keepaliveMinTimeMs: minTime,
      });
      this.session.goaway(NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from("too_many_pings"));
      // grpc-go closes the connection with the GOAWAY; give the frame a moment to leave.
      this.clock.setTimeout(() => this.session.destroy(), TOO_MANY_PINGS_DESTROY_MS).unref();
    }
  }

  // --- the sweep ---------------------------------------------------------

  /**
   * One look at the connection's timers: cut if our PING went unanswered
   * for `keepaliveTimeoutMs`, else end stalled requests, GOAWAY if it had
   * no call for `idleTimeoutMs`, and send a keepalive PING if one is due.
   */
  sweep(now: number): void {
    if (this.session.destroyed || this.cutting) return;
    const { idleTimeoutMs, keepaliveTimeMs, keepaliveTimeoutMs, requestIdleTimeoutMs } = this.policy;
    if (this.pingSentAt !== undefined && now - this.pingSentAt > keepaliveTimeoutMs) {
      this.cut("http2 connection destroyed: ping not answered", { keepaliveTimeoutMs });
      return;
    }
    if (requestIdleTimeoutMs > 0) {
      for (const [stream, t] of this.streams) {
        if (t.ended || (!t.wholeBody && t.held.held === 0)) continue;
        if (now - t.lastDataAt > requestIdleTimeoutMs) this.endStalled(stream, t);
      }
    }
    if (
      idleTimeoutMs > 0 &&
      !this.closing &&
      this.streams.size === 0 &&
      now - this.idleSince >= idleTimeoutMs
    ) {
      this.closing = true;
      this.logger.log("debug", "http2 connection idle: GOAWAY", { remote: this.remote, idleTimeoutMs });
      this.session.close();
      return;
    }
    if (
      keepaliveTimeMs > 0 &&
      this.pingSentAt === undefined &&
      now - this.lastKeepaliveAt >= keepaliveTimeMs
    ) {
      this.lastKeepaliveAt = now;
      this.sendPing();
    }
  }

  // --- ConnectionOwner -----------------------------------------------------

  /** No call open. */
  idle(): boolean {
    return this.streams.size === 0;
  }

  /** Response bytes written by handlers and not yet taken by the peer (flow control, or a full socket). */
  queuedResponseBytes(): number {
    let bytes = 0;
    for (const stream of this.streams.keys()) bytes += queuedWriteBytes(stream);
    return bytes;
  }

  /**
   * Destroys the connection because it tripped a defence or stopped
   * answering, and logs why (once). The destroy waits for a later turn of
   * the event loop: see the class comment.
   */
  cut(msg: string, fields: Record<string, unknown>): void {
    if (this.cutting || this.session.destroyed) return;
    this.cutting = true;
    this.closing = true;
    this.logger.log("warn", msg, { remote: this.remote, ...fields });
    this.destroyLater();
  }

  /** Closes the (idle) connection at once to make room for another: GOAWAY, then the socket. */
  close(): void {
    if (this.cutting || this.session.destroyed) return;
    this.cutting = true;
    this.closing = true;
    this.session.close();
    this.destroyLater();
  }

  // --- drain ---------------------------------------------------------------

  /** GOAWAY: no new calls; the connection closes once its calls end. */
  goaway(): void {
    this.closing = true;
    if (!this.session.destroyed) this.session.close();
  }

  /**
   * Ends every call still open so that the client knows it may retry
   * elsewhere: a gRPC call that has not answered yet gets a trailers-only
   * UNAVAILABLE; any other stream is reset with REFUSED_STREAM, which
   * gRPC and Connect clients read as UNAVAILABLE. Then destroys the
   * connection, once nghttp2 has flushed those frames.
   */
  refuseAll(reason: string): void {
    for (const [stream, t] of this.streams) {
      if (!(t.grpc && respondTrailersOnly(stream, Code.Unavailable, reason)))
        closeStream(stream, NGHTTP2_REFUSED_STREAM);
    }
    this.cutting = true;
    this.destroyLater();
  }

  // --- parts ---------------------------------------------------------------

  private release(t: TrackedStream): void {
    const delta = t.held.release();
    if (delta !== 0 && this.connection !== undefined) this.table?.chargeRequest(this.connection, delta);
  }

  /** A request body stalled past `requestIdleTimeoutMs`: DEADLINE_EXCEEDED where a status can be sent, else a reset. */
  private endStalled(stream: http2.ServerHttp2Stream, t: TrackedStream): void {
    const { requestIdleTimeoutMs } = this.policy;
    this.logger.log("debug", "http2 stream ended: its request stalled", {
      remote: this.remote,
      path: t.path,
      requestIdleTimeoutMs,
      heldBytes: t.held.held,
    });
    this.release(t);
    t.ended = true;
    const message = `the request stalled: no bytes for ${requestIdleTimeoutMs} ms with its message incomplete (the server's --request-idle-timeout-ms)`;
    // After a complete response, RST_STREAM NO_ERROR tells the client to stop sending (RFC 9113, 8.1).
    if (t.grpc && respondTrailersOnly(stream, Code.DeadlineExceeded, message))
      closeStream(stream, NGHTTP2_NO_ERROR);
    else closeStream(stream, NGHTTP2_CANCEL);
  }

  /**
   * Takes a token from the connection's reset budget, a bucket refilled at
   * RESET_RATE_PER_S, and cuts the connection when it is empty.
   */
  private chargeClientReset(): void {
    const now = this.clock.now();
    this.resetTokens = Math.min(
      RESET_BURST,
      this.resetTokens + ((now - this.resetTokensAt) * RESET_RATE_PER_S) / 1000,
    );
    this.resetTokensAt = now;
    if (--this.resetTokens < 0) {
      this.cut("http2 connection destroyed: rapid reset (too many streams reset by the client)", {
        burst: RESET_BURST,
        ratePerSecond: RESET_RATE_PER_S,
      });
      return;
    }
    // Every so many resets, check that the session still answers: nghttp2
    // may have given up on it (its own limits), leaving a silent socket.
    if (++this.resetsSinceProbe >= RESETS_PER_PROBE && this.pingSentAt === undefined) {
      this.resetsSinceProbe = 0;
      this.sendPing();
    }
  }

  /**
   * Sends our own PING (a keepalive, or a probe that the session still
   * answers). While it is unanswered `pingSentAt` is set, for the sweep to
   * cut the connection after `keepaliveTimeoutMs`; a failed ping cuts it.
   */
  private sendPing(): void {
    const sentAt = this.clock.now();
    this.pingSentAt = sentAt;
    this.ownPingsSinceClientPing++;
    try {
      this.session.ping((err) => {
        if (this.pingSentAt === sentAt) this.pingSentAt = undefined;
        if (err) this.cut("http2 connection destroyed: ping failed", { err });
      });
    } catch {
      // The session is closing or destroyed; the sessions forget it on "close".
      this.pingSentAt = undefined;
    }
  }

  /**
   * Max connection age: GOAWAY after `maxConnectionAgeMs` ±10 % (the jitter
   * spreads out reconnection storms, as grpc-go's does), then destroy the
   * connection if its calls have not finished within `maxConnectionAgeGraceMs`.
   */
  private scheduleMaxAge(): void {
    const { maxConnectionAgeMs, maxConnectionAgeGraceMs } = this.policy;
    const jittered = maxConnectionAgeMs * (0.9 + Math.random() * 0.2);
    this.maxAgeTimer = this.clock.setTimeout(() => {
      this.goaway();
      this.maxAgeTimer = this.clock.setTimeout(() => this.session.destroy(), maxConnectionAgeGraceMs);
      this.maxAgeTimer.unref();
    }, jittered);
    this.maxAgeTimer.unref();
    this.session.once("close", () => this.clock.clearTimeout(this.maxAgeTimer));
  }

  /** Destroys the session and its socket on a later turn, after nghttp2 has finished with the current input. */
  private destroyLater(): void {
    // The destroy itself waits for a later turn (destroyOnALaterTurn).
    this.session.destroy();
    // destroy() ends the socket gracefully (the GOAWAY, then FIN once it is
    // written), which never completes for a peer that does not read: a
    // second later the socket goes for good. The real socket, from the
    // table's record: `session.socket` is a proxy that throws on destroy().
    const socket = this.connection?.socket;
    if (socket !== undefined) this.clock.setTimeout(() => socket.destroy(), HARD_DESTROY_MS).unref();
  }
}

/**
 * Makes `session.destroy()` take effect on a later turn of the event loop,
 * with the session closed to new streams meanwhile.
 *
 * Node destroys a session synchronously, while nghttp2 is still reading the
 * input that caused it: on a client GOAWAY with an error code, on an
 * unsolicited PING ACK, on other protocol errors. If that input goes on
 * with HEADERS and DATA for a new stream, Node 22 aborts the whole process
 * (the stream never got its JavaScript side: `Assertion failed:
 * onread->IsFunction()`; Node 24 and 26 stop reading instead), so one packet
 * from any client could kill the server (wire-fuzz seeds 1735103426 and
 * 1845222954). Closed, the session refuses such streams (RST_STREAM
 * REFUSED_STREAM), which nghttp2 handles safely; the destroy itself then
 * runs once the input is consumed, with the first error it was given, so
 * 'error' still reports what happened.
 */
function destroyOnALaterTurn(session: http2.ServerHttp2Session): void {
  const destroy = session.destroy;
  const close = session.close;
  let args: Parameters<typeof destroy> | undefined;
  let scheduled = false;
  session.destroy = (...given: Parameters<typeof destroy>) => {
    if (args === undefined || (args[0] === undefined && given[0] !== undefined)) args = given;
    if (scheduled) return session;
    scheduled = true;
    setImmediate(() => {
      session.destroy = destroy;
      session.destroy(...(args ?? []));
    });
    try {
      if (!session.closed && !session.destroyed) close.call(session);
    } catch {
      // Not closable (its socket is gone): the destroy is all that is left.
    }
    return session;
  };
}

/** gRPC over HTTP/2 (application/grpc, +proto, +json...), not gRPC-Web: the calls a trailers-only status can end. */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(\+|;|$)/.test(contentType);
}

/**
 * Ends a gRPC stream with a trailers-only status, if it can still be
 * answered (open, headers not sent); false if it could not.
 */
export function respondTrailersOnly(stream: http2.ServerHttp2Stream, code: Code, message: string): boolean {
  if (stream.destroyed || stream.closed || stream.headersSent) return false;
  try {
    stream.respond(
      {
        ":status": 200,
        "content-type": "application/grpc",
        "grpc-status": String(code),
        "grpc-message": percentEncodeGrpcMessage(message),
      },
      { endStream: true },
    );
    return true;
  } catch {
    // The peer reset it in the meantime: it is gone either way.
    return false;
  }
}

/** Resets a stream with `code`, unless it is gone already. */
function closeStream(stream: http2.ServerHttp2Stream, code: number): void {
  if (stream.destroyed) return;
  try {
    stream.close(code);
  } catch {
    // Already closing.
  }
}
