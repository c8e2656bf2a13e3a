import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { type Address, formatAddress, isUnixAddress } from "./address.js";
import { Backoff, type BackoffOptions } from "./backoff.js";
import { ConnectivityState } from "./connectivity.js";
import { describeError, unsentError } from "./errors.js";
import { HEALTH_WATCH_PATH } from "./health-check.js";

/** Client-side HTTP/2 keepalive (gRFC A8). */
export interface KeepaliveOptions {
  /**
   * Send a PING after this long without reading from the connection, and
   * close the connection if no answer comes within `timeoutMs`.
   * Undefined turns keepalive off (gRPC's default): servers such as grpc-go
   * answer pings more often than every 5 minutes with GOAWAY "too_many_pings"
   * unless their enforcement policy allows it.
   */
  timeMs?: number;
  /** How long to wait for the PING's answer. */
  timeoutMs: number;
  /** Also ping connections that carry no call. */
  permitWithoutCalls: boolean;
}

/** Everything a subchannel needs to reach its address. */
export interface SubchannelOptions {
  readonly address: Address;
  /** Origin of every request, e.g. "http://rng-headless:8081": sets `:authority`. */
  readonly authority: string;
  /** TLS options, or undefined for cleartext HTTP/2 (h2c). */
  readonly tls: tls.ConnectionOptions | undefined;
  readonly connectTimeoutMs: number;
  readonly keepalive: KeepaliveOptions;
  readonly backoff: BackoffOptions;
  /** Extra options for `http2.connect()` (settings, maxSessionMemory, ...). */
  readonly http2Options: http2.ClientSessionOptions | undefined;
}

/** What a subchannel reports to the pool. */
export interface SubchannelListener {
  /** The state changed; `error` says why for TRANSIENT_FAILURE and for a lost connection. */
  onStateChange(subchannel: Subchannel, previous: ConnectivityState, error: Error | undefined): void;
  /** The server sent GOAWAY: it is draining or moving, so DNS may have news. */
  onGoaway(subchannel: Subchannel): void;
}

/**
 * One endpoint of the pool: one HTTP/2 connection to one address, with
 * gRPC's connectivity states, reconnect backoff and keepalive.
 *
 * It implements connect-node's `NodeHttp2ClientSessionManager`, so stock
 * connect-node transports (gRPC, gRPC-Web, Connect) run their calls on it,
 * while the pool sees every state change. The socket goes to the pod's
 * address, but `:authority` (and TLS SNI) carry the target's host name.
 *
 * A READY connection that carries no call is unref'd, so a process that is
 * done exits by itself even if nobody closes the pool.
 */
export class Subchannel {
  /** The address as a string, e.g. "127.0.0.2:8081": the endpoint's identity. */
  readonly key: string;
  /** The origin of requests, as connect-node checks it. */
  readonly authority: string;
  private stateValue = ConnectivityState.IDLE;
  private lastErrorValue: Error | undefined;
  /** The connection new streams go on; undefined unless READY. */
  private session: http2.ClientHttp2Session | undefined;
  /** Every open connection, including ones going away after GOAWAY. */
  private readonly sessions = new Map<http2.ClientHttp2Session, { streams: number }>();
  private readonly backoff: Backoff;
  private backoffTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastReadAt = 0;
  private wanted = false;
  /**
   * How many READY connections were lost (closed, failed or GOAWAY); a call
   * that saw this change while running lost its connection.
   */
  connectionLosses = 0;
  private readyWaiters: { resolve: (s: http2.ClientHttp2Session) => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly options: SubchannelOptions,
    private readonly listener: SubchannelListener,
  ) {
    this.key = formatAddress(options.address);
    this.authority = options.authority;
    this.backoff = new Backoff(options.backoff);
  }

  /** The connectivity state. */
  get state(): ConnectivityState {
    return this.stateValue;
  }

  /** Why the last connection attempt failed or the last connection was lost. */
  get lastError(): Error | undefined {
    return this.lastErrorValue;
  }

  /**
   * Asks for a connection, now if IDLE, after the backoff delay if in
   * TRANSIENT_FAILURE; and keeps asking after losses until `shutdown()`.
   */
  requestConnection(): void {
    this.wanted = true;
    if (this.stateValue === ConnectivityState.IDLE) this.startConnecting();
  }

  /** Opens a stream (connect-node's session manager contract). */
  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    return this.openStream({ ...headers, ":method": method, ":path": path }, options);
  }

  /**
   * Opens a stream with headers that already carry `:method` and `:path`
   * (the pool's fast unary path builds them so, saving a copy per call).
   */
  async openStream(
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal"> = {},
  ): Promise<http2.ClientHttp2Stream> {
    for (;;) {
      const session = this.session ?? (await this.awaitReady());
      try {
        const stream = session.request(headers, options);
        // Health watches run for the connection's whole life; only calls hold the process open.
        if (headers[":path"] !== HEALTH_WATCH_PATH) this.trackStream(session, stream);
        return stream;
      } catch (err) {
        // The session closed between READY and this request (nodejs/help#2105): try again.
        if (session.closed || session.destroyed) continue;
        throw err;
      }
    }
  }

  /** connect-node reports each read; keepalive skips pings while data flows. */
  notifyResponseByteRead(_stream: http2.ClientHttp2Stream): void {
    this.lastReadAt = Date.now();
  }

  /**
   * Leaves the pool: no new streams; each connection closes (GOAWAY-style,
   * letting in-flight calls finish) or, with `graceful` false, at once.
   * Resolves when every connection has closed.
   */
  async shutdown(graceful = true): Promise<void> {
    if (this.stateValue !== ConnectivityState.SHUTDOWN) {
      this.wanted = false;
      clearTimeout(this.backoffTimer);
      this.stopKeepalive();
      this.session = undefined;
      this.setState(ConnectivityState.SHUTDOWN, undefined);
      this.rejectWaiters(unsentError(`endpoint ${this.key} was removed from the pool`));
    }
    const closing = [...this.sessions.keys()].map(
      (s) => new Promise<void>((resolve) => (s.closed || s.destroyed ? resolve() : s.once("close", resolve))),
    );
    for (const s of this.sessions.keys()) {
      if (graceful) s.close();
      else s.destroy();
    }
    // An idle connection is unref'd: whoever awaits this shutdown must still
    // see it end, so hold the process open until every connection is closed.
    const hold = setInterval(() => {}, 60_000);
    try {
      await Promise.all(closing);
    } finally {
      clearInterval(hold);
    }
  }

  private startConnecting(): void {
    clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.setState(ConnectivityState.CONNECTING, undefined);
    const { address, tls: tlsOptions, connectTimeoutMs } = this.options;
    const session = http2.connect(this.authority, {
      ...this.options.http2Options,
      createConnection: () => openSocket(address, tlsOptions),
    });
    this.sessions.set(session, { streams: 0 });
    const timer = setTimeout(
      () => session.destroy(new Error(`no HTTP/2 connection to ${this.key} within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
    timer.unref();
    let error: Error | undefined;
    let ready = false;
    session.on("error", (err: Error) => {
      error = err;
    });
    // READY only once the server's SETTINGS arrive: the peer speaks HTTP/2.
    session.once("remoteSettings", () => {
      clearTimeout(timer);
      if (this.stateValue !== ConnectivityState.CONNECTING) return;
      ready = true;
      this.session = session;
      // Connecting held the process open; an idle connection must not.
      if (this.sessions.get(session)?.streams === 0) session.unref();
      this.backoff.reset();
      this.lastReadAt = Date.now();
      this.setState(ConnectivityState.READY, undefined);
      this.startKeepalive();
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w.resolve(session);
    });
    session.once("goaway", () => {
      // No new streams on this connection; in-flight ones may finish.
      if (this.session === session) this.onConnectionLost(session, undefined);
      this.listener.onGoaway(this);
    });
    session.once("close", () => {
      clearTimeout(timer);
      this.sessions.delete(session);
      if (this.stateValue === ConnectivityState.SHUTDOWN) return;
      if (!ready) {
        this.onConnectFailed(error ?? new Error(`connection to ${this.key} closed before HTTP/2 settings`));
      } else if (this.session === session) {
        this.onConnectionLost(session, error);
      }
    });
  }

  private onConnectFailed(err: Error): void {
    this.lastErrorValue = err;
    this.setState(ConnectivityState.TRANSIENT_FAILURE, err);
    this.rejectWaiters(unsentError(`cannot connect to ${this.key}: ${describeError(err)}`));
    const delay = this.backoff.nextDelayMs();
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.wanted) this.startConnecting();
      else this.setState(ConnectivityState.IDLE, undefined);
    }, delay);
    this.backoffTimer.unref();
  }

  /** The READY connection is gone (closed, failed or GOAWAY): back to IDLE, as in gRPC. */
  private onConnectionLost(session: http2.ClientHttp2Session, err: Error | undefined): void {
    if (this.session !== session) return;
    this.connectionLosses++;
    this.session = undefined;
    this.stopKeepalive();
    if (err) this.lastErrorValue = err;
    this.setState(ConnectivityState.IDLE, err);
    if (this.wanted && this.stateValue === ConnectivityState.IDLE) this.startConnecting();
  }

  private awaitReady(): Promise<http2.ClientHttp2Session> {
    if (this.stateValue === ConnectivityState.SHUTDOWN) {
      return Promise.reject(unsentError(`endpoint ${this.key} was removed from the pool`));
    }
    if (this.stateValue === ConnectivityState.TRANSIENT_FAILURE) {
      return Promise.reject(
        unsentError(`cannot connect to ${this.key}: ${describeError(this.lastErrorValue)}`),
      );
    }
    const waiting = new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      this.readyWaiters.push({ resolve, reject });
    });
    if (this.stateValue === ConnectivityState.IDLE) this.startConnecting();
    return waiting;
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private trackStream(session: http2.ClientHttp2Session, stream: http2.ClientHttp2Stream): void {
    const entry = this.sessions.get(session);
    if (!entry) return;
    if (entry.streams++ === 0) session.ref();
    stream.once("close", () => {
      if (--entry.streams === 0) session.unref();
    });
  }

  private startKeepalive(): void {
    const { timeMs, timeoutMs, permitWithoutCalls } = this.options.keepalive;
    if (timeMs === undefined) return;
    let pingPending = false;
    const tick = () => {
      const session = this.session;
      // Destroyed sessions emit "close" a tick later: do not ping them meanwhile.
      if (!session || session.destroyed || session.closed) return;
      const streams = this.sessions.get(session)?.streams ?? 0;
      if (!pingPending && Date.now() - this.lastReadAt >= timeMs && (streams > 0 || permitWithoutCalls)) {
        pingPending = true;
        const timeout = setTimeout(
          () =>
            session.destroy(new Error(`keepalive ping to ${this.key} not answered within ${timeoutMs} ms`)),
          timeoutMs,
        );
        timeout.unref();
        session.ping((err) => {
          pingPending = false;
          clearTimeout(timeout);
          if (!err) this.lastReadAt = Date.now();
        });
      }
      this.keepaliveTimer = setTimeout(tick, timeMs);
      this.keepaliveTimer.unref();
    };
    this.keepaliveTimer = setTimeout(tick, timeMs);
    this.keepaliveTimer.unref();
  }

  private stopKeepalive(): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  private setState(next: ConnectivityState, error: Error | undefined): void {
    const previous = this.stateValue;
    if (previous === next) return;
    this.stateValue = next;
    this.listener.onStateChange(this, previous, error);
  }
}

function openSocket(address: Address, tlsOptions: tls.ConnectionOptions | undefined): net.Socket {
  const where = isUnixAddress(address) ? { path: address.path } : { host: address.host, port: address.port };
  if (!tlsOptions) return net.connect({ ...where, noDelay: true });
  return tls.connect({ ALPNProtocols: ["h2"], ...tlsOptions, ...where });
}
