import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { preciseNow, sleep, systemClock } from "../src/index.js";
import { FakeClock, flushIo } from "../src/testing.js";

describe("FakeClock", () => {
  it("fires timers in time order, ties in the order they were set, each at its own time", () => {
    const clock = new FakeClock();
    const t0 = clock.now();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now() - t0}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now() - t0}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now() - t0}`), 20);
    clock.advance(15);
    assert.deepEqual(fired, ["a@10"]);
    assert.equal(clock.now() - t0, 15);
    clock.advance(5);
    assert.deepEqual(fired, ["a@10", "b@20", "c@20"]);
    assert.equal(clock.pending, 0);
  });

  it("fires timers that timers set when they fall due within the same advance", () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
    }, 5);
    clock.advance(12);
    assert.deepEqual(fired, [5, 10]);
  });

  it("fires an interval once per period crossed, until cleared", () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    const h = clock.setInterval(() => fired.push(clock.now()), 10);
    clock.advance(35);
    assert.deepEqual(fired, [10, 20, 30]);
    clock.clearInterval(h);
    clock.advance(100);
    assert.deepEqual(fired, [10, 20, 30]);
  });

  it("cancels timers; counts the ones that would keep a process alive", () => {
    const clock = new FakeClock();
    let fired = false;
    const a = clock.setTimeout(() => {
      fired = true;
    }, 1);
    clock.setTimeout(() => {}, 1).unref();
    assert.equal(clock.pending, 2);
    assert.equal(clock.pendingRefd, 1);
    clock.clearTimeout(a);
    clock.clearTimeout(undefined);
    clock.advance(10);
    assert.equal(fired, false);
    assert.equal(clock.pending, 0);
  });

  it("advanceAsync lets awaiting code run between timers", async () => {
    const clock = new FakeClock({ startMs: 0, turnsPerStep: 1 });
    const seen: number[] = [];
    const loop = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(clock, 10);
        seen.push(clock.now());
      }
    })();
    await clock.advanceAsync(30);
    await loop;
    assert.deepEqual(seen, [10, 20, 30]);
  });

  it("sleep rejects with the signal's reason when aborted first, and clears its timer", async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const done = sleep(clock, 1000, ac.signal);
    assert.equal(clock.pending, 1);
    ac.abort(new Error("stop"));
    await assert.rejects(done, /stop/);
    assert.equal(clock.pending, 0);
    await assert.rejects(sleep(clock, 1, ac.signal), /stop/);
  });
});

describe("systemClock", () => {
  it("reads real time and runs real timers", async () => {
    const before = Date.now();
    assert.ok(Math.abs(systemClock.now() - before) < 1000);
    const p0 = preciseNow(systemClock);
    await sleep(systemClock, 5);
    assert.ok(preciseNow(systemClock) - p0 >= 4);
    let ticks = 0;
    await new Promise<void>((resolve) => {
      const h = systemClock.setInterval(() => {
        if (++ticks === 2) {
          systemClock.clearInterval(h);
          resolve();
        }
      }, 1);
    });
    assert.equal(ticks, 2);
    await flushIo();
  });

  it("preciseNow falls back to now() for a clock without precise()", () => {
    assert.equal(preciseNow(new FakeClock(42)), 42);
  });
});
