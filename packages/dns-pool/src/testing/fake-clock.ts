import type { Clock, TimerHandle } from "../core/clock.js";

interface FakeTimer extends TimerHandle {
  readonly id: number;
  at: number;
  readonly callback: () => void;
  cancelled: boolean;
  /** False once unref'd: such timers would not keep a real process alive. */
  ref: boolean;
}

/**
 * A {@link Clock} whose time moves only when a test says so, for
 * deterministic tests of deadlines, backoff and sweeps (as grpc-js and
 * httplb tests drive their timers). Timers fire in time order, ties in the
 * order they were set.
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
    const timer: FakeTimer = {
      id: this.nextId++,
      at: this.nowMs + Math.max(0, ms),
      callback,
      cancelled: false,
      ref: true,
      unref() {
        this.ref = false;
        return this;
      },
    };
    this.timers.push(timer);
    return timer;
  }

  /** Cancels a timer. */
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    const timer = handle as FakeTimer;
    timer.cancelled = true;
    this.timers = this.timers.filter((t) => t !== timer);
  }

  /** Timers set and not yet fired or cleared. */
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
   * As {@link advance}, but lets promise callbacks run after each timer, for
   * code that awaits between timers (retries, sleeps).
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.nowMs + ms;
    await flushMicrotasks();
    while (this.fireNext(end)) await flushMicrotasks();
    this.nowMs = end;
  }

  /** Fires the earliest timer due by `end`, at its own time; false when none is. */
  private fireNext(end: number): boolean {
    const due = this.nextDue(end);
    if (!due) return false;
    this.nowMs = due.at;
    this.timers = this.timers.filter((t) => t !== due);
    due.callback();
    return true;
  }

  private nextDue(end: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) {
      if (t.at <= end && (!best || t.at < best.at || (t.at === best.at && t.id < best.id))) best = t;
    }
    return best;
  }
}

/** Lets pending promise reactions run (a macrotask turn drains the microtask queue). */
export function flushMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
