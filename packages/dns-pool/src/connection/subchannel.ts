import type * as http2 from "node:http2";
import type * as tls from "node:tls";
import { Backoff, type BackoffOptions } from "../core/backoff.js";
import { type Clock, systemClock, type TimerHandle } from "../core/clock.js";
import { ConnectivityState } from "../core/connectivity.js";
import {
  describeError,
  errorCodeInChain,
  KEEPALIVE_TIMEOUT_CODE,
  lostToLiveness,
  unsentError,
} from "../core/errors.js";
import { HEALTH_WATCH_PATH } from "../health/health-check.js";
import { type Address, formatAddress } from "../resolver/address.js";
import { NO_SUBCHANNEL_TELEMETRY, type SubchannelTelemetry } from "../telemetry/pool-instruments.js";
import {
  type ConnectionScaling,
  pickConnection,
  type QueuedStream,
  ScaledConnections,
  scales,
} from "./connection-scaling.js";
import {
  type Connection,
  type ConnectionFactory,
  dialHttp2,
  type Http2ConnectionListener,
  type KeepaliveOptions,
} from "./http2-connection.js";
import { type ResolvedLiveness, ResponseTimes } from "./liveness.js";

/**
 * While a subchannel probes a pod that went silent: how long one attempt's
 * TCP handshake may take (the kernel's first SYN retransmission is due
 * then too), and the longest wait before the next attempt. A pod that
 * answers again is READY within about 1.25 s plus a handshake.
 */
export const PROBE_TCP_TIMEOUT_MS = 1000;
/** See {@link PROBE_TCP_TIMEOUT_MS}. */
export const PROBE_RETRY_MS = 250;

export type { KeepaliveOptions } from "./http2-connection.js";

/** Everything a subchannel needs to reach its address. */
export interface SubchannelOptions {
  /** Where to dial (the pod's address). */
  readonly address: Address;
  /** Origin of every request, e.g. "http://rng-headless:8081": sets `:authority`. */
  readonly authority: string;
  /** TLS options, or undefined for cleartext HTTP/2 (h2c). */
  readonly tls: tls.ConnectionOptions | undefined;
  /** How long one connection attempt may take. */
  readonly connectTimeoutMs: number;
  /** Keepalive pings. */
  readonly keepalive: KeepaliveOptions;
  /** Silent-connection detection, or false for none. Default false. */
  readonly liveness?: ResolvedLiveness | false;
  /** The pool's response times, shared by its connections. Default: this subchannel's own. */
  readonly responseTimes?: ResponseTimes;
  /** Delays between connection attempts. */
  readonly backoff: BackoffOptions;
  /** Extra options for `http2.connect()` (settings, maxSessionMemory, ...). */
  readonly http2Options: http2.ClientSessionOptions | undefined;
  /** Timers of the reconnect backoff. Default {@link systemClock}. */
  readonly clock?: Clock;
  /** Dials connections. Default: a real {@link Http2Connection}; tests pass a fake. */
  readonly dial?: ConnectionFactory;
  /** Uniform numbers in [0, 1) for the backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Connection metrics (gRFC A94). Default: none. */
  readonly telemetry?: SubchannelTelemetry;
  /** Connections per endpoint (gRFC A105). Default: one connection. */
  readonly scaling?: ConnectionScaling;
}

/** What a subchannel reports to the pool. */
export interface SubchannelListener {
  /** The state changed; `error` says why for TRANSIENT_FAILURE and for a lost connection. */
  onStateChange(subchannel: Subchannel, previous: ConnectivityState, error: Error | undefined): void;
  /** The server sent GOAWAY: it is draining or moving, so DNS may have news. */
  onGoaway(subchannel: Subchannel): void;
  /** The READY connection's `suspect` flag changed. Default: nothing. */
  onSuspectChange?(subchannel: Subchannel): void;
}

/**
 * One endpoint's connectivity: gRPC's state machine (IDLE → CONNECTING →
 * READY ⇄ TRANSIENT_FAILURE, SHUTDOWN) and reconnect backoff over a series
 * of {@link Http2Connection}s, at most one of them READY for new calls
 * (older ones drain after GOAWAY).
 *
 * It implements connect-node's `NodeHttp2ClientSessionManager`, so stock
 * connect-node transports (gRPC, gRPC-Web, Connect) run their calls on it,
 * while the pool sees every state change. The socket goes to the pod's
 * address, but `:authority` (and TLS SNI) carry the target's host name.
 */
export class Subchannel {
  /** The address as a string, e.g. "127.0.0.2:8081": the endpoint's identity. */
  readonly key: string;
  /** The origin of requests, as connect-node checks it. */
  readonly authority: string;
  private stateValue = ConnectivityState.IDLE;
  private lastErrorValue: Error | undefined;
  /** The connection new streams go on; undefined unless READY. */
  private current: Connection | undefined;
  /** Every open connection, including ones going away after GOAWAY. */
  private readonly connections = new Set<Connection>();
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private readonly telemetry: SubchannelTelemetry;
  private backoffTimer: TimerHandle | undefined;
  private responseTimes: ResponseTimes | undefined;
  private wanted = false;
  /**
   * How many READY connections were lost (closed, failed or GOAWAY); a call
   * that saw this change while running lost its connection.
   */
  connectionLosses = 0;
  /** Since its READY connection was lost to silence, until it is READY again: attempts at a steady pace. */
  private probing = false;
  /** Cancels the connection attempt under way (set while CONNECTING). */
  private cancelAttempt: (() => void) | undefined;
  /**
   * The attempt under way: only it may clear `attempting` and
   * `cancelAttempt` (a cancelled one's socket may close while a newer
   * attempt is in flight).
   */
  private attemptToken: object | undefined;
  private readyWaiters: { resolve: (c: Connection) => void; reject: (e: Error) => void }[] = [];
  /**
   * Connection scaling's state (gRFC A105), or undefined for one connection:
   * then no per-call cost, and one field per endpoint. The accessors below
   * read it.
   */
  private readonly scaled: ScaledConnections | undefined;
  /** Connections that reached READY, in all. */
  connectionsOpened = 0;

  constructor(
    private readonly options: SubchannelOptions,
    private readonly listener: SubchannelListener,
  ) {
    this.key = formatAddress(options.address);
    this.authority = options.authority;
    this.backoff = new Backoff(options.backoff, options.random);
    this.clock = options.clock ?? systemClock;
    this.telemetry = options.telemetry ?? NO_SUBCHANNEL_TELEMETRY;
    this.scaled = scales(options.scaling) ? new ScaledConnections(options.scaling) : undefined;
  }

  /** The scaling settings, or undefined for one connection. */
  private get scaling(): ConnectionScaling | undefined {
    return this.scaled?.config;
  }

  /** READY connections besides `current`, oldest first (scaling only). */
  private get extras(): Connection[] | undefined {
    return this.scaled?.extras;
  }

  /** Streams waiting for a connection with room (scaling only). */
  private get queue(): QueuedStream[] | undefined {
    return this.scaled?.queue;
  }

  /** A connection attempt is in flight (tracked when scaling: one at a time, gRFC A105). */
  private get attempting(): boolean {
    return this.scaled?.attempting ?? false;
  }

  private set attempting(value: boolean) {
    if (this.scaled) this.scaled.attempting = value;
  }

  /** True with connection scaling (gRFC A105): a stream may wait in this subchannel for a connection slot. */
  get queuesStreams(): boolean {
    return this.scaled !== undefined;
  }

  /** Connections open for new streams now (READY ones; not those draining after GOAWAY). */
  get openConnections(): number {
    return this.current === undefined ? 0 : 1 + (this.extras?.length ?? 0);
  }

  /** The address it dials. */
  get address(): Address {
    return this.options.address;
  }

  /** The connectivity state. */
  get state(): ConnectivityState {
    return this.stateValue;
  }

  /** Why the last connection attempt failed or the last connection was lost. */
  get lastError(): Error | undefined {
    return this.lastErrorValue;
  }

  /** True while liveness doubts the READY connection's server (see `Connection.suspect`). */
  get suspect(): boolean {
    if (!(this.current?.suspect ?? false)) return false;
    // With several connections (perhaps to several servers behind one address), only if all doubt.
    return this.extras?.every((c) => c.suspect) ?? true;
  }

  /**
   * Asks for a connection, now if IDLE, after the backoff delay if in
   * TRANSIENT_FAILURE; and keeps asking after losses until `shutdown()`.
   */
  requestConnection(): void {
    this.wanted = true;
    if (this.stateValue === ConnectivityState.IDLE) this.startConnecting();
  }

  /**
   * The pool no longer wants this connection (pick_first connected
   * elsewhere): a connection attempt under way is cancelled, a READY
   * connection closes after its calls, and no reconnect follows. The state
   * becomes IDLE (a failed one: once its backoff delay is over);
   * `requestConnection()` starts over.
   */
  release(): void {
    if (this.stateValue === ConnectivityState.SHUTDOWN || !this.wanted) return;
    this.wanted = false;
    // A failed one keeps its backoff, then rests IDLE (see onConnectFailed):
    // asked again before that, it is not hammered at once.
    if (this.stateValue === ConnectivityState.TRANSIENT_FAILURE) return;
    const cancel = this.cancelAttempt;
    this.endAttempt(this.attemptToken);
    cancel?.();
    const current = this.current;
    if (current) {
      this.telemetry.disconnected(undefined, undefined, true);
      this.current = undefined;
      current.stopKeepalive();
      void current.close(true);
    }
    // Extra connections (gRFC A105) go with the lead one.
    this.dropExtras(true);
    this.rejectWaiters(
      unsentError(`the connection to ${this.key} was released (another endpoint was chosen)`),
    );
    this.setState(ConnectivityState.IDLE, undefined);
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
   * (the fast unary path builds them so, saving a copy per call). With
   * connection scaling, a stream waiting for a connection slot leaves the
   * queue when `signal` aborts, rejected with the signal's reason.
   */
  async openStream(
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal"> = {},
    signal?: AbortSignal,
  ): Promise<http2.ClientHttp2Stream> {
    const scaled = this.scaled;
    if (scaled) return this.openScaled(headers, options, scaled.config, signal);
    for (;;) {
      const connection = this.current ?? (await this.awaitReady());
      try {
        // Health watches run for the connection's whole life; only calls hold the process open.
        return connection.request(headers, options, headers[":path"] !== HEALTH_WATCH_PATH);
      } catch (err) {
        if (!connection.closing) throw err;
        // The session closed between READY and this request (nodejs/help#2105).
        // Its "close" event, which takes it out of READY, comes a turn later
        // (after a keepalive or liveness destroy too), and on Node 22
        // request() on a destroyed session throws at once: retrying it here
        // would spin forever without yielding. So it is lost now, and the
        // call is retried transparently on whatever is READY.
        if (this.current === connection) this.onConnectionLost(connection, err as Error);
        if (this.current !== undefined && this.current !== connection) continue;
        throw unsentError(
          `the connection to ${this.key} closed before the call was sent: ${describeError(err)}`,
        );
      }
    }
  }

  /** connect-node reports each read; keepalive skips pings while data flows. */
  notifyResponseByteRead(stream: http2.ClientHttp2Stream): void {
    const extras = this.extras;
    if (extras === undefined || extras.length === 0) {
      this.current?.noteRead();
      return;
    }
    // Liveness and keepalive are per connection: tell the stream's own.
    const session = stream.session;
    if (this.current?.session === session) this.current?.noteRead();
    else for (const c of extras) if (c.session === session) c.noteRead();
  }

  /**
   * Leaves the pool: no new streams; each connection closes (GOAWAY-style,
   * letting in-flight calls finish) or, with `graceful` false, at once.
   * Resolves when every connection has closed.
   */
  async shutdown(graceful = true): Promise<void> {
    if (this.stateValue !== ConnectivityState.SHUTDOWN) {
      this.wanted = false;
      this.clock.clearTimeout(this.backoffTimer);
      if (this.current) this.telemetry.disconnected(undefined, undefined, true);
      this.current?.stopKeepalive();
      this.current = undefined;
      // Every connection, extras included, closes below.
      this.dropExtras(false);
      this.setState(ConnectivityState.SHUTDOWN, undefined);
      this.rejectWaiters(unsentError(`endpoint ${this.key} was removed from the pool`));
    }
    const closing = [...this.connections].map((c) => c.close(graceful));
    // An idle connection is unref'd: whoever awaits this shutdown must still
    // see it end, so hold the process open until every connection is closed.
    const hold = setInterval(() => {}, 60_000);
    try {
      await Promise.all(closing);
    } finally {
      clearInterval(hold);
    }
  }

  /**
   * Forgets the extra connections (gRFC A105) and their idle sweep; with
   * `close`, closes them gracefully too (shutdown closes every connection itself).
   */
  private dropExtras(close: boolean): void {
    const scaled = this.scaled;
    if (scaled === undefined) return;
    for (const c of scaled.extras) {
      this.telemetry.disconnected(undefined, undefined, true);
      c.stopKeepalive();
      if (close) void c.close(true);
    }
    scaled.extras.length = 0;
    scaled.idleSince.clear();
    this.clock.clearTimeout(scaled.idleTimer);
    scaled.idleTimer = undefined;
  }

  /** Ends the attempt `token` if it is the one under way (a stale one changes nothing). */
  private endAttempt(token: object | undefined): void {
    if (token === undefined || token !== this.attemptToken) return;
    this.attemptToken = undefined;
    this.attempting = false;
    this.cancelAttempt = undefined;
  }

  private startConnecting(): void {
    this.clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    const token = {};
    this.attemptToken = token;
    this.attempting = true;
    // An extra connection (gRFC A105) leaves a READY subchannel READY.
    if (this.stateValue !== ConnectivityState.READY) this.setState(ConnectivityState.CONNECTING, undefined);
    let ready = false;
    let open = false;
    let settled = false;
    let cancelled = false;
    let closed = false;
    const listener: Http2ConnectionListener = {
      onSettings: (connection) => {
        open = true;
        settled = true;
        this.telemetry.connectionSucceeded();
        if (cancelled) return;
        this.endAttempt(token);
        if (this.stateValue === ConnectivityState.READY && this.scaling) {
          ready = true;
          this.addExtra(connection);
          return;
        }
        if (this.stateValue !== ConnectivityState.CONNECTING) return;
        ready = true;
        this.connectionsOpened++;
        this.current = connection;
        connection.becameReady();
        this.backoff.reset();
        this.probing = false;
        this.setState(ConnectivityState.READY, undefined);
        const waiters = this.readyWaiters;
        this.readyWaiters = [];
        for (const w of waiters) w.resolve(connection);
        if (this.scaling) this.drainQueue();
      },
      onGoaway: (connection, errorCode) => {
        // No new streams on this connection; in-flight ones may finish. The
        // endpoint's other connections carry on (gRFC A105).
        if (ready) this.onConnectionLost(connection, undefined, errorCode);
        this.listener.onGoaway(this);
      },
      onClose: (connection, error) => {
        closed = true;
        this.connections.delete(connection);
        this.scaled?.idleSince.delete(connection);
        if (open) this.telemetry.connectionClosed();
        if (this.stateValue === ConnectivityState.SHUTDOWN || cancelled) return;
        if (!ready) {
          // A superseded attempt's failure is no news: the current one decides.
          if (settled || token !== this.attemptToken) return;
          this.endAttempt(token);
          const err = error ?? new Error(`connection to ${this.key} closed before HTTP/2 settings`);
          if (this.stateValue === ConnectivityState.READY) this.onExtraFailed(err);
          else this.onConnectFailed(err);
        } else {
          this.onConnectionLost(connection, error);
        }
      },
      onSuspectChange: (connection) => {
        if (this.current === connection || this.extras?.includes(connection)) {
          this.listener.onSuspectChange?.(this);
        }
      },
    };
    if (this.scaling) listener.onCapacity = (connection) => this.onCapacity(connection);
    const { address, authority, tls, connectTimeoutMs, keepalive, http2Options } = this.options;
    const dial = this.options.dial ?? dialHttp2;
    const liveness = this.options.liveness ?? false;
    this.responseTimes ??= this.options.responseTimes ?? new ResponseTimes();
    const responseTimes = this.responseTimes;
    const attempt = dial(
      {
        address,
        label: this.key,
        authority,
        tls,
        connectTimeoutMs,
        ...(this.probing ? { tcpConnectTimeoutMs: PROBE_TCP_TIMEOUT_MS } : {}),
        keepalive,
        liveness,
        responseTimes,
        http2Options,
      },
      listener,
    );
    this.connections.add(attempt);
    if (!ready && !closed) {
      this.cancelAttempt = () => {
        cancelled = true;
        void attempt.close(false);
      };
    }
  }

  private onConnectFailed(err: Error): void {
    this.telemetry.connectionFailed();
    this.lastErrorValue = err;
    this.setState(ConnectivityState.TRANSIENT_FAILURE, err);
    this.rejectWaiters(unsentError(`cannot connect to ${this.key}: ${describeError(err)}`));
    // A pod that went silent is probed at a steady pace, so that it gets
    // calls again within about two seconds of answering, however long the
    // silence lasted (the backoff would have grown to tens of seconds).
    const delay = this.probing
      ? Math.min(this.backoff.nextDelayMs(), PROBE_RETRY_MS)
      : this.backoff.nextDelayMs();
    this.armBackoff(delay);
  }

  /**
   * Waits `delayMs` before the next attempt (replacing a wait already
   * armed), then: READY (scaling: another connection may be due) → maintain;
   * still wanted or with calls queued → connect; else (released) rest IDLE.
   */
  private armBackoff(delayMs: number): void {
    this.clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = this.clock.setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.stateValue === ConnectivityState.READY) this.maintain();
      else if (this.wanted || (this.queue?.length ?? 0) > 0) this.startConnecting();
      else this.setState(ConnectivityState.IDLE, undefined);
    }, delayMs);
    this.backoffTimer.unref();
  }

  /**
   * A READY connection is gone (closed, failed or GOAWAY). The last one:
   * back to IDLE, as in gRPC; or, while another attempt is in flight or in
   * its backoff, CONNECTING or TRANSIENT_FAILURE (gRFC A105). Others left:
   * still READY, the next oldest takes the lead.
   */
  private onConnectionLost(connection: Connection, err: Error | undefined, goawayCode?: number): void {
    if (this.current !== connection) {
      const i = this.extras?.indexOf(connection) ?? -1;
      if (i < 0) return;
      this.extras?.splice(i, 1);
      this.scaled?.idleSince.delete(connection);
      this.telemetry.disconnected(err, goawayCode, false);
      this.connectionLosses++;
      connection.stopKeepalive();
      if (err) this.lastErrorValue = err;
      this.maintain();
      return;
    }
    this.telemetry.disconnected(err, goawayCode, false);
    this.connectionLosses++;
    // Lost to silence (liveness or keepalive found no answer): probe until it answers.
    if (
      connection.silent === true ||
      (err !== undefined && (lostToLiveness(err) || errorCodeInChain(err, [KEEPALIVE_TIMEOUT_CODE])))
    ) {
      this.probing = true;
    }
    connection.stopKeepalive();
    if (err) this.lastErrorValue = err;
    const next = this.extras?.shift();
    if (next !== undefined) {
      this.current = next;
      this.scaled?.idleSince.delete(next);
      if (connection.suspect !== next.suspect) this.listener.onSuspectChange?.(this);
      this.maintain();
      return;
    }
    this.current = undefined;
    if (this.attempting) {
      this.setState(ConnectivityState.CONNECTING, err);
      return;
    }
    // A GOAWAY asks the client to reconnect (the server drains or moves):
    // at once, as without scaling, not after an extra attempt's backoff.
    if (this.backoffTimer !== undefined && goawayCode === undefined) {
      const lost = err ?? new Error("connection closed");
      this.setState(ConnectivityState.TRANSIENT_FAILURE, lost);
      // No connection left (A105): queued calls fail, never sent, so they are retried elsewhere.
      this.rejectWaiters(unsentError(`the connections to ${this.key} were lost: ${describeError(lost)}`));
      return;
    }
    this.clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.setState(ConnectivityState.IDLE, err);
    if ((this.wanted || (this.queue?.length ?? 0) > 0) && this.stateValue === ConnectivityState.IDLE) {
      this.startConnecting();
    }
  }

  /** An extra connection's attempt succeeded: it takes streams from now on. */
  private addExtra(connection: Connection): void {
    this.connectionsOpened++;
    connection.becameReady();
    this.backoff.reset();
    this.probing = false;
    this.extras?.push(connection);
    this.drainQueue();
    this.noteIdle(connection);
  }

  /**
   * An extra connection's attempt failed while others are READY: the
   * endpoint stays READY; the next attempt waits out the backoff (shared by
   * every attempt of the endpoint, gRFC A105).
   */
  private onExtraFailed(err: Error): void {
    this.telemetry.connectionFailed();
    this.lastErrorValue = err;
    this.armBackoff(this.backoff.nextDelayMs());
    this.maintain();
  }

  /** A stream of `connection` closed or its MAX_CONCURRENT_STREAMS changed. */
  private onCapacity(connection: Connection): void {
    if ((this.queue?.length ?? 0) > 0) this.drainQueue();
    this.noteIdle(connection);
  }

  /**
   * Opens a stream on the connection with room (gRFC A105); when all are
   * full, waits in the subchannel's queue while another connection is set up.
   */
  private openScaled(
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
    scaling: ConnectionScaling,
    signal: AbortSignal | undefined,
  ): Promise<http2.ClientHttp2Stream> {
    const track = headers[":path"] !== HEALTH_WATCH_PATH;
    for (;;) {
      const current = this.current;
      if (current === undefined || (this.queue?.length ?? 0) > 0) break;
      const connection = pickConnection(current, this.extras, scaling.min > 1);
      if (connection === undefined) break;
      try {
        const stream = connection.request(headers, options, track);
        this.scaled?.idleSince.delete(connection);
        return Promise.resolve(stream);
      } catch (err) {
        if (!connection.closing) return Promise.reject(err);
        // Closed between READY and this request (see openStream): lost now, try the others.
        this.onConnectionLost(connection, err as Error);
      }
    }
    const unusable = this.current === undefined ? this.unusableError() : undefined;
    if (unusable) return Promise.reject(unusable);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<http2.ClientHttp2Stream>((resolve, reject) => {
      let entry: QueuedStream;
      if (signal === undefined) entry = { headers, options, track, resolve, reject };
      else {
        // An aborted call (cancelled, or past its deadline) stops waiting and asks for no connection.
        const onAbort = () => {
          const queue = this.queue;
          const i = queue?.indexOf(entry) ?? -1;
          if (i >= 0) queue?.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", onAbort, { once: true });
        const done = () => signal.removeEventListener("abort", onAbort);
        entry = {
          headers,
          options,
          track,
          resolve: (s) => {
            done();
            resolve(s);
          },
          reject: (e) => {
            done();
            reject(e);
          },
        };
      }
      this.queue?.push(entry);
      if (this.stateValue === ConnectivityState.IDLE) this.startConnecting();
      else this.maintain();
    });
  }

  /** Sends queued streams, oldest first, while a connection has room; then asks for more connections. */
  private drainQueue(): void {
    const queue = this.queue;
    const scaling = this.scaling;
    if (scaling === undefined) return;
    while (queue !== undefined && queue.length > 0) {
      const current = this.current;
      if (current === undefined) break;
      const connection = pickConnection(current, this.extras, scaling.min > 1);
      if (connection === undefined) break;
      const waiting = queue.shift() as QueuedStream;
      try {
        waiting.resolve(connection.request(waiting.headers, waiting.options, waiting.track));
        this.scaled?.idleSince.delete(connection);
      } catch (err) {
        if (connection.closing) {
          queue.unshift(waiting);
          this.onConnectionLost(connection, err as Error);
        } else {
          waiting.reject(err as Error);
        }
      }
    }
    this.maintain();
  }

  /**
   * Starts another connection attempt when gRFC A105 calls for one: READY,
   * no attempt in flight nor in backoff, below `max`, and either below
   * `min` or with streams queued because every connection is full.
   */
  private maintain(): void {
    const scaling = this.scaling;
    const current = this.current;
    if (scaling === undefined || current === undefined) return;
    if (this.stateValue !== ConnectivityState.READY || this.attempting || this.backoffTimer !== undefined) {
      return;
    }
    const open = 1 + (this.extras?.length ?? 0);
    if (open >= scaling.max) return;
    if (open < scaling.min) {
      this.startConnecting();
      return;
    }
    if ((this.queue?.length ?? 0) > 0 && pickConnection(current, this.extras, false) === undefined) {
      this.startConnecting();
    }
  }

  /**
   * Notes an extra connection (one beyond `min`) that carries no stream,
   * and arms the sweep that closes those idle for `idleMs`.
   */
  private noteIdle(connection: Connection): void {
    const scaled = this.scaled;
    if (scaled === undefined || (connection.openStreams ?? 0) > 0) return;
    const i = scaled.extras.indexOf(connection);
    // Connections up to `min` stay (the first `min - 1` extras); streams favor the oldest, so the newest idle first.
    if (i < scaled.config.min - 1) return;
    if (!scaled.idleSince.has(connection)) scaled.idleSince.set(connection, this.clock.now());
    if (scaled.idleTimer === undefined) this.armIdleSweep(scaled, scaled.config.idleMs);
  }

  private armIdleSweep(scaled: ScaledConnections, delayMs: number): void {
    const timer = this.clock.setTimeout(() => this.sweepIdle(scaled), delayMs);
    timer.unref();
    scaled.idleTimer = timer;
  }

  /** Closes extra connections idle for `idleMs` (gracefully: a stream racing in still finishes). */
  private sweepIdle(scaled: ScaledConnections): void {
    scaled.idleTimer = undefined;
    const scaling = scaled.config;
    const idleSince = scaled.idleSince;
    const now = this.clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [connection, since] of idleSince) {
      if ((connection.openStreams ?? 0) > 0) {
        idleSince.delete(connection);
        continue;
      }
      const due = since + scaling.idleMs;
      if (due > now) {
        next = Math.min(next, due - now);
        continue;
      }
      idleSince.delete(connection);
      const i = this.extras?.indexOf(connection) ?? -1;
      if (i < scaling.min - 1) continue;
      this.extras?.splice(i, 1);
      this.telemetry.disconnected(undefined, undefined, true);
      connection.stopKeepalive();
      void connection.close(true);
    }
    if (next !== Number.POSITIVE_INFINITY) this.armIdleSweep(scaled, next);
  }

  /** Why a call cannot wait for a connection here (SHUTDOWN or TRANSIENT_FAILURE), else undefined. */
  private unusableError(): Error | undefined {
    if (this.stateValue === ConnectivityState.SHUTDOWN) {
      return unsentError(`endpoint ${this.key} was removed from the pool`);
    }
    if (this.stateValue === ConnectivityState.TRANSIENT_FAILURE) {
      return unsentError(`cannot connect to ${this.key}: ${describeError(this.lastErrorValue)}`);
    }
    return undefined;
  }

  private awaitReady(): Promise<Connection> {
    const unusable = this.unusableError();
    if (unusable) return Promise.reject(unusable);
    const waiting = new Promise<Connection>((resolve, reject) => {
      this.readyWaiters.push({ resolve, reject });
    });
    if (this.stateValue === ConnectivityState.IDLE) this.startConnecting();
    return waiting;
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
    const queued = this.queue;
    if (queued !== undefined && queued.length > 0) {
      for (const w of queued.splice(0)) w.reject(err);
    }
  }

  private setState(next: ConnectivityState, error: Error | undefined): void {
    const previous = this.stateValue;
    if (previous === next) return;
    this.stateValue = next;
    this.listener.onStateChange(this, previous, error);
  }
}
