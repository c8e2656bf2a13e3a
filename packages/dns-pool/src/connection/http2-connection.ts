import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { KEEPALIVE_TIMEOUT_CODE, noteStreamReset } from "../core/errors.js";
import { type Address, isUnixAddress } from "../resolver/address.js";
import { Liveness, type ResolvedLiveness, type ResponseTimes } from "./liveness.js";

/** Client-side HTTP/2 keepalive (gRFC A8). */
export interface KeepaliveOptions {
  /**
   * Send a PING after this long without reading from the connection, and
   * close the connection if no answer comes within `timeoutMs`.
   * Undefined turns keepalive off (gRPC's default): servers such as grpc-go
   * answer pings more often than every 5 minutes with GOAWAY "too_many_pings"
   * unless their enforcement policy allows it. Default: undefined (off).
   */
  timeMs?: number;
  /** How long to wait for the PING's answer. Default 20000. */
  timeoutMs: number;
  /** Also ping connections that carry no call. Default false. */
  permitWithoutCalls: boolean;
}

/** Everything one connection attempt needs. */
export interface Http2ConnectionOptions {
  /** Where to dial (the pod's address). */
  readonly address: Address;
  /** The address as text, for messages. */
  readonly label: string;
  /** Origin of every request, e.g. "http://rng-headless:8081": sets `:authority`. */
  readonly authority: string;
  /** TLS options, or undefined for cleartext HTTP/2 (h2c). */
  readonly tls: tls.ConnectionOptions | undefined;
  /** How long TCP + TLS + the server's SETTINGS may take. */
  readonly connectTimeoutMs: number;
  /**
   * How long the TCP handshake alone may take, or undefined for no limit
   * of its own (`connectTimeoutMs` still bounds the whole attempt). The
   * subchannel sets it while it probes a pod that went silent: a SYN the
   * network drops is then sent again by a fresh attempt within a second,
   * instead of by the kernel's doubling retransmissions (1, 3, 7, 15 s...).
   */
  readonly tcpConnectTimeoutMs?: number;
  /** Keepalive pings. */
  readonly keepalive: KeepaliveOptions;
  /** Silent-connection detection (see {@link Liveness}), or false for none. */
  readonly liveness: ResolvedLiveness | false;
  /** The pool's recent response times, which this connection feeds and its liveness reads. */
  readonly responseTimes: ResponseTimes;
  /** Extra options for `http2.connect()` (settings, maxSessionMemory, ...). */
  readonly http2Options: http2.ClientSessionOptions | undefined;
}

/** What a connection reports to its subchannel. */
export interface Http2ConnectionListener {
  /** The server's SETTINGS arrived: the peer speaks HTTP/2. */
  onSettings(connection: Connection): void;
  /** The server sent GOAWAY (with its HTTP/2 error code): no new streams here, in-flight ones may finish. */
  onGoaway(connection: Connection, errorCode?: number): void;
  /** The connection is gone; `error` is the last error it raised, if any. */
  onClose(connection: Connection, error: Error | undefined): void;
  /** Its `suspect` flag changed (liveness). */
  onSuspectChange(connection: Connection): void;
  /**
   * A stream slot may have freed up: one of its streams closed, or the
   * server's SETTINGS changed MAX_CONCURRENT_STREAMS (gRFC A105). Only
   * subchannels that scale connections listen; absent, nothing is reported,
   * so a single-connection endpoint pays nothing per call.
   */
  onCapacity?(connection: Connection): void;
}

/**
 * What a {@link Subchannel} needs of one connection: {@link Http2Connection},
 * or a fake in tests of the state machine.
 */
export interface Connection {
  /** True once closing or gone: no new streams. */
  readonly closing: boolean;
  /**
   * True once it was destroyed because the server went silent (a liveness
   * or keepalive PING got no answer): its subchannel then probes the pod
   * at a steady pace. Fakes may leave it out.
   */
  readonly silent?: boolean;
  /**
   * True while liveness doubts the server: a liveness PING is pending, or
   * calls have waited too long with nothing back. The endpoint gets no new
   * picks meanwhile; the connection itself is left alone.
   */
  readonly suspect: boolean;
  /**
   * Streams open now, calls and health watches alike: what counts against
   * the server's MAX_CONCURRENT_STREAMS. Fakes may leave it out (0).
   */
  readonly openStreams?: number;
  /**
   * The server's SETTINGS_MAX_CONCURRENT_STREAMS (unlimited when it sent
   * none). Fakes may leave it out (unlimited).
   */
  readonly maxConcurrentStreams?: number | undefined;
  /** The Node session, when there is one: tells which connection a stream is on. */
  readonly session?: http2.ClientHttp2Session;
  /** Opens a stream; `track` counts it as a call. @throws when the connection takes no new stream. */
  request(
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
    track: boolean,
  ): http2.ClientHttp2Stream;
  /** A response byte was read. */
  noteRead(): void;
  /** It became the subchannel's READY connection. */
  becameReady(): void;
  /** It is no longer the one new calls use. */
  stopKeepalive(): void;
  /** Closes (gracefully: in-flight streams finish); resolves when closed. */
  close(graceful: boolean): Promise<void>;
}

/** Dials a connection (the default makes an {@link Http2Connection}). */
export type ConnectionFactory = (
  options: Http2ConnectionOptions,
  listener: Http2ConnectionListener,
) => Connection;

/** The real dialer. */
export const dialHttp2: ConnectionFactory = (options, listener) => new Http2Connection(options, listener);

/**
 * One HTTP/2 connection (one `ClientHttp2Session`) to one address: dialing
 * with a connect timeout, GOAWAY and close reporting, stream ref-counting
 * (a connection with no call is unref'd, so an idle pool never keeps the
 * process alive), keepalive pings and liveness (silent-server detection,
 * see {@link Liveness}): it notes every answer of the server (response
 * headers of every stream, data that connect-node reports, PING acks) and
 * times each call's response headers for the pool's response times.
 * Connectivity states and reconnecting
 * are the {@link Subchannel}'s business, not this class's.
 */
export class Http2Connection implements Connection {
  /** The Node session. */
  readonly session: http2.ClientHttp2Session;
  /** Streams of calls open now (health watches are not counted). */
  private streams = 0;
  /** Every stream open now, health watches included (they take a slot too). */
  private allStreams = 0;
  private readonly onCapacity: ((connection: Connection) => void) | undefined;
  private lastReadAt = 0;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private closeError: Error | undefined;
  private silentValue = false;
  private readonly liveness: Liveness | undefined;
  /** A PING (keepalive's or liveness's) is in flight: never two at once. */
  private pingPending = false;
  /** The session's socket (TCP, or TLS over it), once `http2.connect` has opened it. */
  private socket: ReturnType<typeof openSocket> | undefined;

  constructor(
    private readonly options: Http2ConnectionOptions,
    listener: Http2ConnectionListener,
  ) {
    const { address, tls: tlsOptions, connectTimeoutMs, label } = options;
    const tcpTimeoutMs = options.tcpConnectTimeoutMs;
    const session = http2.connect(options.authority, {
      ...options.http2Options,
      createConnection: () => {
        const socket = openSocket(address, tlsOptions);
        this.socket = socket;
        if (tcpTimeoutMs !== undefined) {
          const tcpTimer = setTimeout(() => {
            // The socket, not the session: a session still connecting defers its destroy until connected.
            if (socket.connecting) {
              socket.destroy(
                Object.assign(new Error(`no TCP connection to ${label} within ${tcpTimeoutMs} ms`), {
                  code: "ETIMEDOUT",
                }),
              );
            }
          }, tcpTimeoutMs);
          tcpTimer.unref();
          socket.once("connect", () => clearTimeout(tcpTimer));
          socket.once("close", () => clearTimeout(tcpTimer));
        }
        return socket;
      },
    });
    this.session = session;
    const timer = setTimeout(
      () => this.destroy(new Error(`no HTTP/2 connection to ${label} within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    timer.unref();
    session.on("error", (err: Error) => {
      this.closeError = err;
    });
    session.once("remoteSettings", () => {
      clearTimeout(timer);
      listener.onSettings(this);
    });
    this.onCapacity = listener.onCapacity?.bind(listener);
    if (this.onCapacity) {
      // Later SETTINGS may raise or lower MAX_CONCURRENT_STREAMS (gRFC A105 asks for each change).
      let known = Number.NaN;
      session.on("remoteSettings", (settings: http2.Settings) => {
        const max = settings.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
        if (max === known) return;
        const first = Number.isNaN(known);
        known = max;
        if (!first) this.onCapacity?.(this);
      });
    }
    session.once("goaway", (errorCode: number) => listener.onGoaway(this, errorCode));
    session.once("close", () => {
      clearTimeout(timer);
      this.stopKeepalive();
      this.liveness?.stop();
      listener.onClose(this, this.closeError);
    });
    if (options.liveness !== false) {
      this.liveness = new Liveness(options.liveness, options.responseTimes, label, {
        ping: (acked) => this.ping(acked),
        dead: (error) => {
          this.silentValue = true;
          session.destroy(error);
        },
        suspectChanged: () => listener.onSuspectChange(this),
      });
    }
  }

  /** True once destroyed because the server went silent (see {@link Connection.silent}). */
  get silent(): boolean {
    return this.silentValue;
  }

  /** True while liveness doubts the server (see {@link Connection.suspect}). */
  get suspect(): boolean {
    return this.liveness?.suspect ?? false;
  }

  /** True once the session is closing or gone: no new streams. */
  get closing(): boolean {
    return this.session.closed || this.session.destroyed;
  }

  /** Calls in flight on this connection. */
  get activeStreams(): number {
    return this.streams;
  }

  /**
   * Every stream open now (calls and health watches): see
   * {@link Connection.openStreams}. Counted only when the listener has
   * `onCapacity` (a scaling subchannel), else 0.
   */
  get openStreams(): number {
    return this.allStreams;
  }

  /** The server's SETTINGS_MAX_CONCURRENT_STREAMS; unlimited until its SETTINGS or when it sent none. */
  get maxConcurrentStreams(): number {
    return this.session.remoteSettings?.maxConcurrentStreams ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Opens a stream. `track` counts it as a call: the first call refs the
   * connection (a waiting call keeps the process alive), the last unrefs it.
   * @throws Node's error when the session can take no new stream.
   */
  request(
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
    track: boolean,
  ): http2.ClientHttp2Stream {
    const stream = this.session.request(headers, options);
    // Listens before connect-node does, so the reset code is on record when its handler wraps the error.
    stream.on("error", recordReset);
    const onCapacity = this.onCapacity;
    if (onCapacity) {
      this.allStreams++;
      stream.once("close", () => {
        this.allStreams--;
        onCapacity(this);
      });
    }
    const liveness = this.liveness;
    if (track) {
      if (this.streams++ === 0) this.session.ref();
      liveness?.callStarted();
      const sentAt = performance.now();
      stream.once("response", () => {
        this.options.responseTimes.record(performance.now() - sentAt);
        liveness?.answered();
      });
      stream.once("close", () => {
        if (--this.streams === 0) this.session.unref();
        liveness?.callEnded();
      });
    } else if (liveness) {
      // A health watch's answer is the server's too.
      stream.once("response", () => liveness.answered());
    }
    return stream;
  }

  /** Called for each read (connect-node reports them); keepalive skips pings while data flows. */
  noteRead(): void {
    this.lastReadAt = Date.now();
    this.liveness?.answered();
  }

  /** The connection became the subchannel's READY one: unref if idle, start keepalive. */
  becameReady(): void {
    // Connecting held the process open; an idle connection must not.
    if (this.streams === 0) this.session.unref();
    this.lastReadAt = Date.now();
    this.startKeepalive();
  }

  /** Stops pinging (the connection is no longer the one new calls use). */
  stopKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  /** Closes: gracefully lets in-flight streams finish; otherwise destroys at once. Resolves when closed. */
  close(graceful: boolean): Promise<void> {
    const session = this.session;
    // A session already closing counts as closed, as it did before this split.
    const closed = new Promise<void>((resolve) =>
      session.closed || session.destroyed ? resolve() : session.once("close", () => resolve()),
    );
    if (graceful) session.close();
    else this.destroy();
    return closed;
  }

  /**
   * Destroys the session now. A session still connecting (TCP or TLS
   * handshake) defers its own destroy until it connects, which to a
   * blackholed address is never: its socket is destroyed instead, which
   * closes the session at once.
   */
  private destroy(error?: Error): void {
    const socket = this.socket;
    if (this.session.connecting && socket !== undefined && !socket.destroyed) {
      // Said first: the session may report only a socket closed before it connected.
      if (error) this.closeError ??= error;
      socket.destroy(error);
    } else this.session.destroy(error);
  }

  /**
   * Sends a PING unless one is in flight; `acked` runs on its ACK. An ACK
   * counts as a read for keepalive. False when no PING went out.
   */
  private ping(acked: () => void): boolean {
    const session = this.session;
    // Destroyed sessions emit "close" a tick later: do not ping them meanwhile.
    if (this.pingPending || session.destroyed || session.closed) return false;
    this.pingPending = true;
    const sent = session.ping((err) => {
      this.pingPending = false;
      if (err) return;
      this.lastReadAt = Date.now();
      acked();
    });
    if (!sent) this.pingPending = false;
    return sent;
  }

  private startKeepalive(): void {
    const { timeMs, timeoutMs, permitWithoutCalls } = this.options.keepalive;
    if (timeMs === undefined) return;
    const session = this.session;
    const tick = () => {
      if (session.destroyed || session.closed) return;
      if (Date.now() - this.lastReadAt >= timeMs && (this.streams > 0 || permitWithoutCalls)) {
        let timeout: NodeJS.Timeout | undefined;
        const acked = () => {
          clearTimeout(timeout);
          this.liveness?.keepaliveAcked();
        };
        if (this.ping(acked)) {
          this.liveness?.keepalivePinged();
          timeout = setTimeout(() => {
            this.silentValue = true;
            session.destroy(
              Object.assign(
                new Error(`keepalive ping to ${this.options.label} not answered within ${timeoutMs} ms`),
                { code: KEEPALIVE_TIMEOUT_CODE },
              ),
            );
          }, timeoutMs);
          timeout.unref();
        }
      }
      this.keepaliveTimer = setTimeout(tick, timeMs);
      this.keepaliveTimer.unref();
    };
    this.keepaliveTimer = setTimeout(tick, timeMs);
    this.keepaliveTimer.unref();
  }
}

/** A stream's "error" listener (shared, no closure per stream): tags the error with the stream's reset code. */
function recordReset(this: http2.ClientHttp2Stream, err: Error): void {
  if (this.rstCode !== undefined && this.rstCode !== http2.constants.NGHTTP2_NO_ERROR) {
    noteStreamReset(err, this.rstCode);
  }
}

function openSocket(address: Address, tlsOptions: tls.ConnectionOptions | undefined): net.Socket {
  const where = isUnixAddress(address) ? { path: address.path } : { host: address.host, port: address.port };
  if (!tlsOptions) return net.connect({ ...where, noDelay: true });
  return tls.connect({ ALPNProtocols: ["h2"], ...tlsOptions, ...where });
}
