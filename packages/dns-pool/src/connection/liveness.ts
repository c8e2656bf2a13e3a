import { type Clock, systemClock, type TimerHandle } from "../core/clock.js";
import { LIVENESS_TIMEOUT_CODE } from "../core/errors.js";

/**
 * Silent-connection detection, on by default (see the README's "Liveness"
 * section). A connection whose calls have had nothing back from the server
 * (no response headers, no data) for `pingAfterMs` gets one HTTP/2 PING; if
 * it is not answered within `pingTimeoutMs`, the connection is dead: its
 * calls end with UNAVAILABLE and the subchannel reconnects. Meanwhile, and
 * from `suspectAfterMs` of silence on, the endpoint gets no new picks.
 */
export interface LivenessOptions {
  /**
   * Ping a connection whose calls have waited this long with nothing from
   * the server. Default: adaptive, 8 × the p99 of the pool's recent
   * response times (time to response headers), within [250, 750] ms; 250
   * before any response.
   */
  pingAfterMs?: number;
  /**
   * Declare the connection dead when its liveness PING has no answer within
   * this long. Long enough for a server's GC pause or a busy event loop
   * (Node servers ack PINGs from the event loop). Default 1000.
   */
  pingTimeoutMs?: number;
  /**
   * Give the endpoint no new picks once a call that started after its
   * server's last answer has waited this long, until the server answers
   * again. Default: adaptive, 3 × the p99 of the pool's recent response
   * times, within [20 ms, `pingAfterMs`]; 100 before any response.
   */
  suspectAfterMs?: number;
}

/** {@link LivenessOptions} resolved: fixed values, or undefined for adaptive ones. */
export interface ResolvedLiveness {
  /** Fixed, or undefined: adaptive. */
  readonly pingAfterMs: number | undefined;
  /** How long a liveness PING may go unanswered. */
  readonly pingTimeoutMs: number;
  /** Fixed, or undefined: adaptive. */
  readonly suspectAfterMs: number | undefined;
}

/** Bounds and factors of the adaptive thresholds (see {@link LivenessOptions}). */
export const LIVENESS_DEFAULTS = {
  pingTimeoutMs: 1000,
  pingAfterFactor: 8,
  pingAfterMinMs: 250,
  pingAfterMaxMs: 750,
  suspectFactor: 3,
  suspectMinMs: 20,
  suspectUnknownMs: 100,
} as const;

/**
 * A connection is suspect when, since its oldest unanswered call started,
 * the pool received this many times as many answers as its share of the
 * calls in flight would have brought it, and it got none: for a healthy
 * server the chance of that is about e^-5 (under 1 %).
 */
const SUSPECT_EXPECTED_ANSWERS = 5;

/** The shortest wait between two looks at one connection. */
const MIN_RECHECK_MS = 10;

/** How many recent response times {@link ResponseTimes} keeps. */
const SAMPLES = 256;
/** Recompute the p99 after this many new samples. */
const RECOMPUTE_EVERY = 32;

/**
 * What "normal" is for the liveness of a pool's connections, shared by all
 * of them: recent response times (from sending a call's request to its
 * response headers; a ring of the last 256 with a p99 recomputed every 32
 * samples, so a record costs a store), and counts of the calls in flight
 * and of the answers (response headers, data) over the whole pool.
 */
export class ResponseTimes {
  /** Answers (response headers, data) received on every connection so far. */
  answers = 0;
  /** Calls in flight on every connection with liveness on. */
  inFlight = 0;
  private readonly ring = new Float64Array(SAMPLES);
  private readonly scratch = new Float64Array(SAMPLES);
  private count = 0;
  private p99Value: number | undefined;

  /** Records one response time, in ms. */
  record(ms: number): void {
    this.ring[this.count % SAMPLES] = ms;
    this.count++;
    if (this.count % RECOMPUTE_EVERY === 0 || this.count === 8) this.recompute();
  }

  /** The p99 of the recent samples, or undefined before the first 8. */
  get p99(): number | undefined {
    return this.p99Value;
  }

  private recompute(): void {
    const n = Math.min(this.count, SAMPLES);
    const sorted = this.scratch.subarray(0, n);
    sorted.set(this.ring.subarray(0, n));
    sorted.sort();
    this.p99Value = sorted[Math.floor(0.99 * (n - 1))];
  }
}

/** What {@link Liveness} does to its connection. */
export interface LivenessHooks {
  /** Sends one PING; `acked` runs when its ACK arrives. False when none could be sent. */
  ping(acked: () => void): boolean;
  /** The PING went unanswered: the connection is dead; destroy it with `error`. */
  dead(error: Error): void;
  /** `suspect` changed. */
  suspectChanged(): void;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * One connection's liveness: tracks when the server last answered (response
 * headers, data, PING acks) and when calls started, and decides when to
 * ping, when the connection is suspect and when it is dead.
 *
 * Ping enforcement (grpc-go's server, and connect-server's): a client PING
 * earns a strike when the server sent no headers or data since the client's
 * previous PING (within 5 minutes); the third strike gets GOAWAY
 * too_many_pings. So within one quiet period (no headers or data from the
 * server; a PING ack does not end it) this sends at most two PINGs, counting
 * keepalive's: one when calls waited `pingAfterMs`, and one more only if a
 * call that started after that PING's answer waits `pingAfterMs` again.
 * That is at most one strike per quiet period, and never two in a row.
 */
export class Liveness {
  private calls = 0;
  /** Since when calls have been in flight with no answer (headers/data); undefined with no call. */
  private waitingSince: number | undefined;
  /** The start of the earliest call that began after the server's last sign of life. */
  private newCallSince: number | undefined;
  /** The pool's answer count when `newCallSince` was set. */
  private answersAtNewCall = 0;
  /** PINGs sent since the server last sent headers or data. */
  private quietPings = 0;
  private pingPending = false;
  private pingTimer: TimerHandle | undefined;
  private timer: TimerHandle | undefined;
  private timerAt = 0;
  private suspectValue = false;
  private stopped = false;

  /**
   * @param options - thresholds.
   * @param times - the pool's response times, for adaptive thresholds.
   * @param label - the address, for messages.
   * @param hooks - what to do to the connection.
   * @param clock - timers. Default {@link systemClock}.
   */
  constructor(
    private readonly options: ResolvedLiveness,
    private readonly times: ResponseTimes,
    private readonly label: string,
    private readonly hooks: LivenessHooks,
    private readonly clock: Clock = systemClock,
  ) {}

  /** True while a liveness PING is pending, or calls waited `suspectAfterMs` with nothing back. */
  get suspect(): boolean {
    return this.suspectValue;
  }

  /** The PING threshold now. */
  get pingAfterMs(): number {
    const fixed = this.options.pingAfterMs;
    if (fixed !== undefined) return fixed;
    const p99 = this.times.p99;
    const d = LIVENESS_DEFAULTS;
    return p99 === undefined
      ? d.pingAfterMinMs
      : clamp(d.pingAfterFactor * p99, d.pingAfterMinMs, d.pingAfterMaxMs);
  }

  /** The suspicion threshold now. */
  get suspectAfterMs(): number {
    const fixed = this.options.suspectAfterMs;
    if (fixed !== undefined) return fixed;
    const p99 = this.times.p99;
    const d = LIVENESS_DEFAULTS;
    const pingAfter = this.pingAfterMs;
    return p99 === undefined
      ? Math.min(d.suspectUnknownMs, pingAfter)
      : clamp(d.suspectFactor * p99, Math.min(d.suspectMinMs, pingAfter), pingAfter);
  }

  /**
   * A call started on the connection. This is also where suspicion by
   * answers is judged: it matters only for picks, and a pick starts a call.
   */
  callStarted(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const pool = this.times;
    this.calls++;
    pool.inFlight++;
    this.waitingSince ??= now;
    if (this.newCallSince === undefined) {
      this.newCallSince = now;
      this.answersAtNewCall = pool.answers;
      const due = now + this.suspectAfterMs;
      if (this.timer === undefined || this.timerAt > due) this.arm(due);
    } else if (
      !this.suspectValue &&
      (pool.answers - this.answersAtNewCall) * this.calls >= SUSPECT_EXPECTED_ANSWERS * pool.inFlight
    ) {
      // Its peers answered many calls since this server last did: stop feeding it, and ask it now.
      this.setSuspect(true);
      if (!this.pingPending && this.quietPings < 2) this.sendPing(now - this.newCallSince);
    }
  }

  /** A call on the connection ended (however). */
  callEnded(): void {
    if (this.stopped || this.calls === 0) return;
    this.times.inFlight--;
    if (--this.calls > 0) return;
    this.waitingSince = undefined;
    this.newCallSince = undefined;
    if (!this.pingPending) this.setSuspect(false);
  }

  /** The server sent response headers or data: it is alive, and a new quiet period begins. */
  answered(): void {
    this.times.answers++;
    this.quietPings = 0;
    this.alive();
  }

  /** A keepalive PING went out: it counts against this quiet period's PINGs. */
  keepalivePinged(): void {
    this.quietPings++;
  }

  /** A keepalive PING was answered: a sign of life (the quiet period goes on). */
  keepaliveAcked(): void {
    this.alive();
  }

  /** Stops for good (the connection closed). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.times.inFlight -= this.calls;
    this.calls = 0;
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.pingTimer);
    this.timer = undefined;
    this.pingTimer = undefined;
  }

  /** A sign of life (headers, data, a PING ack): calls waiting so far were answered by a live server. */
  private alive(): void {
    if (this.stopped) return;
    this.newCallSince = undefined;
    if (this.calls > 0) this.waitingSince = this.clock.now();
    // A pending PING's timeout stands: data the server sent before reading
    // the PING does not show it is still running; only the ACK does.
    if (this.suspectValue) this.setSuspect(false);
  }

  private arm(at: number): void {
    this.clock.clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimeout(() => this.check(), Math.max(0, at - this.clock.now()));
    // Liveness never keeps a process alive: the calls it watches do.
    this.timer.unref();
  }

  /** The timer: suspect, ping, and when to look again. */
  private check(): void {
    this.timer = undefined;
    if (this.stopped || this.calls === 0) return;
    const now = this.clock.now();
    const suspectAfter = this.suspectAfterMs;
    const pingAfter = this.pingAfterMs;
    if (this.newCallSince !== undefined && now - this.newCallSince >= suspectAfter) this.setSuspect(true);
    const pingFrom = this.pingFrom();
    if (pingFrom !== undefined && now - pingFrom >= pingAfter) this.sendPing(now - pingFrom);
    let next = Number.POSITIVE_INFINITY;
    if (!this.suspectValue && this.newCallSince !== undefined) next = this.newCallSince + suspectAfter;
    const from = this.pingFrom();
    if (from !== undefined) next = Math.min(next, from + pingAfter);
    // A PING that could not go (keepalive's is in flight) is tried again a little later.
    if (next !== Number.POSITIVE_INFINITY) this.arm(Math.max(next, now + MIN_RECHECK_MS));
  }

  /** Since when the wait that may earn a PING runs; undefined when no PING may go now. */
  private pingFrom(): number | undefined {
    if (this.pingPending) return undefined;
    if (this.quietPings === 0) return this.waitingSince;
    // One more only for a call that started after the last PING's answer.
    if (this.quietPings === 1) return this.newCallSince;
    return undefined;
  }

  private sendPing(waited: number): void {
    const sent = this.hooks.ping(() => {
      this.pingPending = false;
      this.clock.clearTimeout(this.pingTimer);
      this.pingTimer = undefined;
      this.alive();
      if (this.calls > 0 && this.timer === undefined) this.check();
    });
    if (!sent) return;
    this.pingPending = true;
    this.quietPings++;
    this.setSuspect(true);
    const timeoutMs = this.options.pingTimeoutMs;
    this.pingTimer = this.clock.setTimeout(() => {
      this.pingTimer = undefined;
      if (this.stopped) return;
      this.hooks.dead(
        Object.assign(
          new Error(
            `connection to ${this.label} is silent: calls waited ${Math.round(waited)} ms with nothing from the server, and a PING got no answer within ${timeoutMs} ms`,
          ),
          { code: LIVENESS_TIMEOUT_CODE },
        ),
      );
    }, timeoutMs);
    this.pingTimer.unref();
  }

  private setSuspect(suspect: boolean): void {
    if (this.suspectValue === suspect) return;
    this.suspectValue = suspect;
    this.hooks.suspectChanged();
  }
}
