import type { Clock, TimerHandle } from "../clock.js";

interface FakeTimer extends TimerHandle {
  readonly id: number;
  at: number;
  readonly callback: () => void;
  /** The period of an interval timer; undefined for a one-shot timer. */
  readonly every: number | undefined;
  /** False once unref'd: such timers would not keep a real process alive. */
  ref: boolean;
}

/**
 * A {@link Clock} whose time moves only when a test says so, for
 * deterministic tests of the server's timeouts, sweeps and drain. Timers
 * fire in time order, ties in the order they were set; an interval timer
 * fires once per period crossed.
 *
 * Real sockets keep running on real time beside it: a test that needs the
 * server to react to a peer (or the peer to a server's frame) lets the event
 * loop turn ({@link flushIo}) between steps of fake time.
 */
export class FakeClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  /** @param startMs - the initial time. Default 1_000_000 (not 0, so "0 = never" sentinels stay distinct). */
  constructor(startMs = 1_000_000) {
    this.nowMs = startMs;
  }

  /** The fake time. */
  now(): number {
    return this.nowMs;
  }

  /** Schedules `callback` at now + ms. */
  setTimeout(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, undefined);
  }

  /** Cancels a timer. */
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Schedules `callback` every `ms` (at least 1) from now. */
  setInterval(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, Math.max(1, ms), Math.max(1, ms));
  }

  /** Cancels an interval timer. */
  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  /** Timers set and not yet fired or cleared (an interval stays pending until cleared). */
  get pending(): number {
    return this.timers.length;
  }

  /** Pending timers that would keep a real process alive (not unref'd). */
  get pendingRefd(): number {
    return this.timers.filter((t) => t.ref).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way (also
   * timers those timers set, if due), each at its own time.
   */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    while (this.fireNext(end)) {}
    this.nowMs = end;
  }

  /**
   * As {@link advance}, but lets the event loop turn after each timer
   * (promise callbacks, and I/O that is ready), for code that awaits
   * between timers (the drain's polling) or that talks to a real peer.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    await flushIo();
    while (this.fireNext(end)) await flushIo();
    this.nowMs = end;
    await flushIo();
  }

  private add(callback: () => void, ms: number, every: number | undefined): FakeTimer {
    const timer: FakeTimer = {
      id: this.nextId++,
      at: this.nowMs + Math.max(0, ms),
      callback,
      every,
      ref: true,
      unref() {
        this.ref = false;
        return this;
      },
    };
    this.timers.push(timer);
    return timer;
  }

  /** Fires the earliest timer due by `end`, at its own time; false when none is. */
  private fireNext(end: number): boolean {
    let due: FakeTimer | undefined;
    for (const t of this.timers) {
      if (t.at <= end && (due === undefined || t.at < due.at || (t.at === due.at && t.id < due.id))) due = t;
    }
    if (due === undefined) return false;
    this.nowMs = due.at;
    if (due.every === undefined) this.timers = this.timers.filter((t) => t !== due);
    else due.at += due.every;
    due.callback();
    return true;
  }
}

/**
 * Lets the event loop turn a few times: promise reactions run, and I/O
 * that is ready (a real peer's frames on loopback) is read. Real time
 * passes too, a few milliseconds at most.
 */
export async function flushIo(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
