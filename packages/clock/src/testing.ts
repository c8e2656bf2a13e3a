/**
 * A fake {@link IntervalClock} for unit tests of timeouts, backoff, sweeps
 * and drains, as grpc-js and httplb tests drive their timers.
 *
 * @packageDocumentation
 */
import type { IntervalClock, TimerHandle } from "./index.js";

interface FakeTimer extends TimerHandle {
  readonly id: number;
  at: number;
  readonly callback: () => void;
  /** The period of an interval timer; undefined for a one-shot timer. */
  readonly every: number | undefined;
  /** False once unref'd: such timers would not keep a real process alive. */
  ref: boolean;
}

/** How a {@link FakeClock} lets the event loop turn in {@link FakeClock.advanceAsync}. */
export interface FakeClockOptions {
  /** The initial time. Default 1_000_000 (not 0, so "0 = never" sentinels stay distinct). */
  startMs?: number;
  /**
   * Event-loop turns (`setImmediate`) after each timer in `advanceAsync`.
   * One drains promise reactions; a few more let I/O that is ready (a real
   * peer's frames on loopback) be read too. Default 1.
   */
  turnsPerStep?: number;
}

/**
 * A clock whose time moves only when a test says so. Timers fire in time
 * order, ties in the order they were set; an interval timer fires once per
 * period crossed. Real sockets keep running on real time beside it: a test
 * that needs code to react to a peer lets the event loop turn between steps
 * of fake time ({@link FakeClock.advanceAsync}, {@link flushIo}).
 */
export class FakeClock implements IntervalClock {
  private nowMs: number;
  private readonly turns: number;
  private nextId = 1;
  private timers: FakeTimer[] = [];

  /** @param options - the start time (or options); see {@link FakeClockOptions}. */
  constructor(options: number | FakeClockOptions = {}) {
    const o = typeof options === "number" ? { startMs: options } : options;
    this.nowMs = o.startMs ?? 1_000_000;
    this.turns = o.turnsPerStep ?? 1;
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
   * As {@link FakeClock.advance}, but lets the event loop turn
   * (`turnsPerStep` times) before, after each timer and at the end: for
   * code that awaits between timers (retries, sleeps, a drain's polling) or
   * that talks to a real peer.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    await flushIo(this.turns);
    while (this.fireNext(end)) await flushIo(this.turns);
    this.nowMs = end;
    await flushIo(this.turns);
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
 * Lets the event loop turn `turns` times (default 3): promise reactions
 * run, and I/O that is ready is read. Real time passes too, a few
 * milliseconds at most.
 */
export async function flushIo(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Lets pending promise reactions run (one macrotask turn drains the microtask queue). */
export function flushMicrotasks(): Promise<void> {
  return flushIo(1);
}
