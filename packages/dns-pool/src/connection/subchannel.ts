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
  private readyWaiters: { resolve: (c: Connection) => void; reject: (e: Error) => void }[] = [];

  constructor(
    private readonly options: SubchannelOptions,
    private readonly listener: SubchannelListener,
  ) {
    this.key = formatAddress(options.address);
    this.authority = options.authority;
    this.backoff = new Backoff(options.backoff, options.random);
    this.clock = options.clock ?? systemClock;
    this.telemetry = options.telemetry ?? NO_SUBCHANNEL_TELEMETRY;
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
    return this.current?.suspect ?? false;
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
    this.cancelAttempt = undefined;
    cancel?.();
    const current = this.current;
    if (current) {
      this.telemetry.disconnected(undefined, undefined, true);
      this.current = undefined;
      current.stopKeepalive();
      void current.close(true);
    }
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
   * (the fast unary path builds them so, saving a copy per call).
   */
  async openStream(
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal"> = {},
  ): Promise<http2.ClientHttp2Stream> {
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
  notifyResponseByteRead(_stream: http2.ClientHttp2Stream): void {
    this.current?.noteRead();
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

  private startConnecting(): void {
    this.clock.clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    this.setState(ConnectivityState.CONNECTING, undefined);
    let ready = false;
    let open = false;
    let cancelled = false;
    let closed = false;
    const listener: Http2ConnectionListener = {
      onSettings: (connection) => {
        open = true;
        this.telemetry.connectionSucceeded();
        if (cancelled || this.stateValue !== ConnectivityState.CONNECTING) return;
        this.cancelAttempt = undefined;
        ready = true;
        this.current = connection;
        connection.becameReady();
        this.backoff.reset();
        this.probing = false;
        this.setState(ConnectivityState.READY, undefined);
        const waiters = this.readyWaiters;
        this.readyWaiters = [];
        for (const w of waiters) w.resolve(connection);
      },
      onGoaway: (connection, errorCode) => {
        // No new streams on this connection; in-flight ones may finish.
        if (this.current === connection) this.onConnectionLost(connection, undefined, errorCode);
        this.listener.onGoaway(this);
      },
      onClose: (connection, error) => {
        closed = true;
        this.connections.delete(connection);
        if (open) this.telemetry.connectionClosed();
        if (this.stateValue === ConnectivityState.SHUTDOWN || cancelled) return;
        if (!ready) {
          this.cancelAttempt = undefined;
          this.onConnectFailed(error ?? new Error(`connection to ${this.key} closed before HTTP/2 settings`));
        } else if (this.current === connection) {
          this.onConnectionLost(connection, error);
        }
      },
      onSuspectChange: (connection) => {
        if (this.current === connection) this.listener.onSuspectChange?.(this);
      },
    };
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
    this.backoffTimer = this.clock.setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.wanted) this.startConnecting();
      else this.setState(ConnectivityState.IDLE, undefined);
    }, delay);
    this.backoffTimer.unref();
  }

  /** The READY connection is gone (closed, failed or GOAWAY): back to IDLE, as in gRPC. */
  private onConnectionLost(connection: Connection, err: Error | undefined, goawayCode?: number): void {
    if (this.current !== connection) return;
    this.telemetry.disconnected(err, goawayCode, false);
    this.connectionLosses++;
    // Lost to silence (liveness or keepalive found no answer): probe until it answers.
    if (
      connection.silent === true ||
      (err !== undefined && (lostToLiveness(err) || errorCodeInChain(err, [KEEPALIVE_TIMEOUT_CODE])))
    ) {
      this.probing = true;
    }
    this.current = undefined;
    connection.stopKeepalive();
    if (err) this.lastErrorValue = err;
    this.setState(ConnectivityState.IDLE, err);
    if (this.wanted && this.stateValue === ConnectivityState.IDLE) this.startConnecting();
  }

  private awaitReady(): Promise<Connection> {
    if (this.stateValue === ConnectivityState.SHUTDOWN) {
      return Promise.reject(unsentError(`endpoint ${this.key} was removed from the pool`));
    }
    if (this.stateValue === ConnectivityState.TRANSIENT_FAILURE) {
      return Promise.reject(
        unsentError(`cannot connect to ${this.key}: ${describeError(this.lastErrorValue)}`),
      );
    }
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
  }

  private setState(next: ConnectivityState, error: Error | undefined): void {
    const previous = this.stateValue;
    if (previous === next) return;
    this.stateValue = next;
    this.listener.onStateChange(this, previous, error);
  }
}
