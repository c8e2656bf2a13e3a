import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { AdaptiveHedgingDelay, type HedgingPolicy, runHedged } from "../../src/call/hedging.js";
import { ExtraAttempts, ResetBudget, RetryBudget, RetryThrottle } from "../../src/call/retry-limits.js";
import { unsentError } from "../../src/core/errors.js";
import { FakeClock, flushMicrotasks } from "../../src/testing/index.js";

/** An attempt the test answers by hand. */
interface Attempt {
  readonly index: number;
  readonly at: number;
  readonly signal: AbortSignal;
  readonly headers: () => void;
  resolve(value: string): void;
  reject(err: unknown): void;
}

function setup(
  policy: Partial<HedgingPolicy> & { maxAttempts: number },
  o: {
    limits?: ExtraAttempts;
    deadline?: number;
    signal?: AbortSignal;
    transparentRetries?: number;
    mayCancel?: (index: number) => boolean;
  } = {},
) {
  const clock = new FakeClock();
  const attempts: Attempt[] = [];
  let outcome: string | ConnectError | "pending" = "pending";
  const result = runHedged<string>({
    policy: { hedgingDelayMs: 0, hedgingDelayPercentile: 0, nonFatalCodes: [], ...policy },
    clock,
    limits: o.limits ?? new ExtraAttempts(undefined, undefined),
    signal: o.signal,
    deadline: o.deadline === undefined ? undefined : clock.now() + o.deadline,
    transparentRetries: o.transparentRetries ?? 0,
    ...(o.mayCancel ? { mayCancel: o.mayCancel } : {}),
    start: (index, signal, headers) =>
      new Promise<string>((resolve, reject) => {
        const a: Attempt = { index, at: clock.now(), signal, headers, resolve, reject };
        attempts.push(a);
        // A real attempt ends soon after its signal aborts.
        signal.addEventListener("abort", () => reject(ConnectError.from(signal.reason, Code.Canceled)));
      }),
  });
  result.then(
    (v) => {
      outcome = v;
    },
    (e: unknown) => {
      outcome = e as ConnectError;
    },
  );
  return { clock, attempts, result, outcome: () => outcome };
}

const unavailable = () => new ConnectError("pod down", Code.Unavailable);

describe("runHedged (gRFC A6 hedging)", () => {
  it("sends a hedge after hedgingDelayMs; the first answer wins and the slow attempt is cancelled", async () => {
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10 });
    assert.equal(t.attempts.length, 1);
    await t.clock.advanceAsync(9);
    assert.equal(t.attempts.length, 1, "no hedge before the delay");
    await t.clock.advanceAsync(1);
    assert.equal(t.attempts.length, 2);
    assert.equal(t.attempts[1]?.at, t.clock.now());
    t.attempts[1]?.resolve("fast");
    await flushMicrotasks();
    assert.equal(t.outcome(), "fast");
    assert.equal(t.attempts[0]?.signal.aborted, true, "the slow attempt is cancelled");
    assert.equal((t.attempts[0]?.signal.reason as ConnectError | undefined)?.code, Code.Canceled);
    assert.equal(t.clock.pending, 0, "no timer left");
  });

  it("sends no hedge when the first attempt answers within the delay", async () => {
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10 });
    await t.clock.advanceAsync(5);
    t.attempts[0]?.resolve("ok");
    await flushMicrotasks();
    assert.equal(t.outcome(), "ok");
    assert.equal(t.clock.pending, 0);
    await t.clock.advanceAsync(100);
    assert.equal(t.attempts.length, 1);
  });

  it("hedges every delay up to maxAttempts, no more", async () => {
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10 });
    await t.clock.advanceAsync(100);
    assert.deepEqual(
      t.attempts.map((a) => a.at - (t.attempts[0]?.at ?? 0)),
      [0, 10, 20],
    );
    assert.equal(t.clock.pending, 0, "no timer once every attempt is out");
    t.attempts[2]?.resolve("third");
    await flushMicrotasks();
    assert.equal(t.outcome(), "third");
    assert.ok(t.attempts.slice(0, 2).every((a) => a.signal.aborted));
  });

  it("hedgingDelayMs 0 sends every attempt at once", () => {
    const t = setup({ maxAttempts: 4 });
    assert.equal(t.attempts.length, 4);
    assert.equal(t.clock.pending, 0);
    t.attempts[3]?.resolve("x");
  });

  it("a non-fatal code sends the next attempt at once; a fatal one ends the call and cancels the rest", async () => {
    const t = setup({ maxAttempts: 4, hedgingDelayMs: 50, nonFatalCodes: [Code.Unavailable] });
    t.attempts[0]?.reject(unavailable());
    await flushMicrotasks();
    assert.equal(t.attempts.length, 2, "hedged at once after UNAVAILABLE");
    await t.clock.advanceAsync(50);
    assert.equal(t.attempts.length, 3, "the delay starts over from the immediate hedge");
    t.attempts[1]?.reject(new ConnectError("bad request", Code.InvalidArgument));
    await flushMicrotasks();
    assert.equal((t.outcome() as ConnectError).code, Code.InvalidArgument);
    assert.equal(t.attempts[2]?.signal.aborted, true);
    assert.equal(t.clock.pending, 0);
  });

  it("every attempt failing with a non-fatal code ends with the last error", async () => {
    const t = setup({ maxAttempts: 2, hedgingDelayMs: 5, nonFatalCodes: [Code.Unavailable] });
    t.attempts[0]?.reject(unavailable());
    await flushMicrotasks();
    t.attempts[1]?.reject(new ConnectError("still down", Code.Unavailable));
    await flushMicrotasks();
    const err = t.outcome() as ConnectError;
    assert.equal(err.code, Code.Unavailable);
    assert.equal(err.rawMessage, "still down");
    assert.equal(t.clock.pending, 0);
  });

  it("response headers commit the call (A6): the others are cancelled and no hedge follows, even after a non-fatal error", async () => {
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10, nonFatalCodes: [Code.Unavailable] });
    await t.clock.advanceAsync(10);
    assert.equal(t.attempts.length, 2);
    t.attempts[0]?.headers();
    assert.equal(t.attempts[1]?.signal.aborted, true, "the other attempt is cancelled at once");
    assert.equal(t.clock.pending, 0, "the next hedge's timer is gone");
    await t.clock.advanceAsync(50);
    assert.equal(t.attempts.length, 2);
    t.attempts[0]?.reject(unavailable());
    await flushMicrotasks();
    assert.equal(
      (t.outcome() as ConnectError).code,
      Code.Unavailable,
      "a committed attempt's error ends the call",
    );
    assert.equal(t.attempts.length, 2);
  });

  it("the caller's abort cancels every attempt and leaves no timer", async () => {
    const ac = new AbortController();
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10 }, { signal: ac.signal });
    await t.clock.advanceAsync(10);
    ac.abort();
    await flushMicrotasks();
    assert.equal((t.outcome() as ConnectError).code, Code.Canceled);
    assert.ok(t.attempts.every((a) => a.signal.aborted));
    assert.equal(t.clock.pending, 0);
  });

  it("sends no hedge at or after the deadline", async () => {
    const t = setup({ maxAttempts: 5, hedgingDelayMs: 10 }, { deadline: 25 });
    await t.clock.advanceAsync(100);
    assert.equal(t.attempts.length, 3, "at 0, 10 and 20; not at 30");
    assert.equal(t.clock.pending, 0);
    t.attempts[0]?.reject(new ConnectError("deadline", Code.DeadlineExceeded));
  });

  it("an attempt that never reached a server is replaced at once without using up maxAttempts", async () => {
    const t = setup({ maxAttempts: 2, hedgingDelayMs: 10 }, { transparentRetries: 1 });
    t.attempts[0]?.reject(unsentError("no connection"));
    await flushMicrotasks();
    assert.equal(t.attempts.length, 2);
    await t.clock.advanceAsync(10);
    assert.equal(t.attempts.length, 3, "the hedge still comes");
    t.attempts[2]?.resolve("ok");
    await flushMicrotasks();
    assert.equal(t.outcome(), "ok");
  });

  it("the A6 throttle stops hedges once half its tokens are gone", async () => {
    const throttle = new RetryThrottle({ maxTokens: 4, tokenRatio: 0.5 });
    const limits = new ExtraAttempts(throttle, undefined);
    // Two non-fatal failures: 4 -> 2 tokens, not above 4 / 2.
    throttle.failure();
    throttle.failure();
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10 }, { limits });
    await t.clock.advanceAsync(50);
    assert.equal(t.attempts.length, 1);
    assert.equal(limits.refused.throttle, 1);
    assert.equal(t.clock.pending, 0, "a refused hedge leaves no timer");
    t.attempts[0]?.resolve("ok");
    await flushMicrotasks();
    assert.equal(t.outcome(), "ok");
  });

  it("the budget stops hedges beyond its ratio", async () => {
    const clock = new FakeClock();
    const budget = new RetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, ttlMs: 10_000 }, clock);
    const limits = new ExtraAttempts(undefined, budget);
    budget.deposit();
    budget.deposit(); // two calls: one extra attempt allowed
    const a = setup({ maxAttempts: 3, hedgingDelayMs: 10 }, { limits });
    await a.clock.advanceAsync(50);
    assert.equal(a.attempts.length, 2, "one hedge, then the budget is spent");
    assert.equal(limits.refused.budget, 1);
    a.attempts[0]?.resolve("ok");
  });
});

describe("the adaptive hedging delay (hedgingDelayPercentile)", () => {
  const M = "rng.Rng/Rng";
  const delay = (percentile: number, floorMs = 0) => {
    const clock = new FakeClock();
    return {
      clock,
      d: new AdaptiveHedgingDelay({ hedgingDelayPercentile: percentile, hedgingDelayMs: floorMs }, clock),
    };
  };
  /** `n` latencies of `ms` each. */
  const feed = (d: AdaptiveHedgingDelay, n: number, ms: number) => {
    for (let i = 0; i < n; i++) d.record(M, ms);
  };

  it("is Infinity (no timed hedge) until a method has 100 latencies; then the percentile, within a bucket's 5 %", () => {
    const { d } = delay(95);
    assert.equal(d.delayFor(M), Number.POSITIVE_INFINITY, "nothing seen yet");
    feed(d, 90, 2);
    feed(d, 9, 40);
    assert.equal(d.delayFor(M), Number.POSITIVE_INFINITY, "99 latencies");
    feed(d, 1, 40);
    // 90 at 2 ms, 10 at 40 ms: the 95th is 40 ms; the 90th, 2 ms.
    const p95 = d.delayFor(M);
    assert.ok(p95 >= 40 && p95 <= 42, `p95 ${p95}`);
    assert.equal(d.delayFor("rng.v1.RngService/Generate"), Number.POSITIVE_INFINITY, "per method");
    const p90 = delay(90).d;
    feed(p90, 90, 2);
    feed(p90, 10, 40);
    const v = p90.delayFor(M);
    assert.ok(v >= 2 && v <= 2.1, `p90 ${v}`);
  });

  it("never goes below hedgingDelayMs, which is also the delay until the percentile is known", () => {
    const { d } = delay(99, 25);
    assert.equal(d.delayFor(M), 25, "no latency yet: the fixed delay");
    feed(d, 200, 1);
    assert.equal(d.delayFor(M), 25);
    feed(d, 200, 80);
    assert.ok(d.delayFor(M) >= 80, "above the floor: the percentile");
  });

  it("follows the servers: latencies count for one to two 10 s windows, then only the new ones do", async () => {
    const { clock, d } = delay(95);
    feed(d, 200, 10);
    const before = d.delayFor(M);
    assert.ok(before >= 10 && before <= 10.5, String(before));
    await clock.advanceAsync(10_000);
    feed(d, 200, 100);
    // Both windows: 200 at 10 ms and 200 at 100 ms: the 95th is 100 ms.
    const mixed = d.delayFor(M);
    assert.ok(mixed >= 100 && mixed <= 105, String(mixed));
    await clock.advanceAsync(10_000);
    feed(d, 200, 1);
    // The 10 ms window left; 200 at 100 ms and 200 at 1 ms remain.
    const later = d.delayFor(M);
    assert.ok(later >= 100 && later <= 105, String(later));
    await clock.advanceAsync(20_000);
    assert.equal(d.delayFor(M), Number.POSITIVE_INFINITY, "idle for two windows: nothing recent is known");
  });

  it("is recomputed every 16 latencies, not on every call", () => {
    const { d } = delay(50);
    feed(d, 100, 1);
    assert.ok(d.delayFor(M) <= 1.05);
    feed(d, 15, 1000);
    assert.ok(d.delayFor(M) <= 1.05, "15 new latencies: the cached value");
    feed(d, 200, 1000);
    assert.ok(d.delayFor(M) >= 1000, "then the new median");
  });

  it("windows sit on a fixed grid: a latency never counts for more than two windows", async () => {
    const { clock, d } = delay(50);
    feed(d, 100, 10);
    await clock.advanceAsync(19_999);
    assert.ok(d.delayFor(M) >= 10, "still in the window after the first");
    // Sparse calls at 25 s: the grid has moved two windows (0-10 s, 10-20 s) on, not one.
    await clock.advanceAsync(5_001);
    d.record(M, 1);
    assert.equal(d.delayFor(M), Number.POSITIVE_INFINITY, "the latencies of 0-10 s are gone");
  });

  it("a hedge timer Node fires early (it starts from the loop's stale time) waits out the rest on the precise clock", async () => {
    const fake = new FakeClock();
    let lag = 0;
    // precise() is the real time; the timers run on fake time, which lags by `lag` while a busy turn runs.
    const clock = {
      now: () => fake.now(),
      setTimeout: (f: () => void, ms: number) => fake.setTimeout(f, ms),
      clearTimeout: (h: Parameters<FakeClock["clearTimeout"]>[0]) => fake.clearTimeout(h),
      precise: () => fake.now() + lag,
    };
    const starts: number[] = [];
    lag = 3; // the call starts 3 ms into a turn
    const result = runHedged<string>({
      policy: { maxAttempts: 2, hedgingDelayMs: 1, hedgingDelayPercentile: 0, nonFatalCodes: [] },
      clock,
      limits: new ExtraAttempts(undefined, undefined),
      signal: undefined,
      deadline: undefined,
      transparentRetries: 0,
      start: (_i, signal) =>
        new Promise<string>((resolve, reject) => {
          starts.push(clock.precise());
          signal.addEventListener("abort", () => reject(ConnectError.from(signal.reason, Code.Canceled)));
          if (starts.length === 2) resolve("hedge");
        }),
    });
    // The next turn: the loop's time catches up, the 1 ms timer (armed on stale time) is due at once.
    lag = 0;
    await fake.advanceAsync(1);
    assert.equal(starts.length, 1, "fired 2 ms too early by the precise clock: no hedge yet");
    await fake.advanceAsync(3);
    assert.equal(starts.length, 2);
    assert.ok(
      (starts[1] as number) - (starts[0] as number) >= 1,
      `hedged after ${(starts[1] as number) - (starts[0] as number)} ms`,
    );
    assert.equal(await result, "hedge");
    assert.equal(fake.pending, 0);
  });

  it("runHedged sends no timed hedge while the delay is Infinity; a non-fatal code still sends the next attempt", async () => {
    const t = setup({
      maxAttempts: 3,
      hedgingDelayMs: Number.POSITIVE_INFINITY,
      nonFatalCodes: [Code.Unavailable],
    });
    await t.clock.advanceAsync(60_000);
    assert.equal(t.attempts.length, 1);
    assert.equal(t.clock.pending, 0, "no timer armed");
    t.attempts[0]?.reject(unavailable());
    await flushMicrotasks();
    assert.equal(t.attempts.length, 2);
    t.attempts[1]?.resolve("second");
    await flushMicrotasks();
    assert.equal(t.outcome(), "second");
  });
});

describe("cancelling losers within servers' rapid-reset limits", () => {
  it("a loser mayCancel refuses is left to finish, its answer ignored; the caller's abort cancels it anyway", async () => {
    const t = setup({ maxAttempts: 3, hedgingDelayMs: 10 }, { mayCancel: (i) => i !== 0 });
    await t.clock.advanceAsync(20);
    assert.equal(t.attempts.length, 3);
    t.attempts[1]?.resolve("second");
    await flushMicrotasks();
    assert.equal(t.outcome(), "second");
    assert.equal(t.attempts[0]?.signal.aborted, false, "left running: no reset");
    assert.equal(t.attempts[2]?.signal.aborted, true);
    t.attempts[0]?.resolve("late");
    await flushMicrotasks();
    assert.equal(t.outcome(), "second");
    assert.equal(t.clock.pending, 0);

    const ac = new AbortController();
    const u = setup({ maxAttempts: 2, hedgingDelayMs: 10 }, { mayCancel: () => false, signal: ac.signal });
    await u.clock.advanceAsync(10);
    ac.abort();
    await flushMicrotasks();
    assert.ok(
      u.attempts.every((a) => a.signal.aborted),
      "the caller's cancel reaches every attempt",
    );
  });

  it("ResetBudget: a burst, then a steady rate per endpoint", () => {
    const clock = new FakeClock();
    const budget = new ResetBudget(clock, 3, 2);
    const a = {};
    const b = {};
    assert.deepEqual(
      [1, 2, 3, 4].map(() => budget.take(a)),
      [true, true, true, false],
    );
    assert.equal(budget.take(b), true, "per endpoint");
    clock.advance(500);
    assert.equal(budget.take(a), true, "2 per second: one after 500 ms");
    assert.equal(budget.take(a), false);
  });
});

describe("RetryThrottle (gRFC A6 retryThrottling)", () => {
  it("failures take 1, successes give tokenRatio back, up to maxTokens; retries only above half", () => {
    const t = new RetryThrottle({ maxTokens: 10, tokenRatio: 0.1 });
    assert.equal(t.level, 10);
    for (let i = 0; i < 5; i++) t.failure();
    assert.equal(t.level, 5);
    assert.equal(t.allows, false, "5 is not above 10 / 2");
    t.success();
    assert.equal(t.level, 5.1);
    assert.equal(t.allows, true);
    for (let i = 0; i < 100; i++) t.success();
    assert.equal(t.level, 10, "never above maxTokens");
    for (let i = 0; i < 20; i++) t.failure();
    assert.equal(t.level, 0, "never below 0");
  });
});

describe("RetryBudget (Linkerd's)", () => {
  it("allows ratio × calls plus minRetriesPerSecond × ttl over the window, and forgets what left the window", () => {
    const clock = new FakeClock({ startMs: 0 });
    const b = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 }, clock);
    for (let i = 0; i < 100; i++) b.deposit();
    let allowed = 0;
    while (b.withdraw()) allowed++;
    assert.equal(allowed, 30, "20 % of 100 calls + 1/s × 10 s");
    clock.advance(5_000);
    assert.equal(b.withdraw(), false, "still in the window");
    clock.advance(5_000);
    // The calls and the retries of second 0 left the window: only the floor remains.
    let again = 0;
    while (b.withdraw()) again++;
    assert.equal(again, 10);
    clock.advance(60_000);
    for (let i = 0; i < 10; i++) b.deposit();
    let later = 0;
    while (b.withdraw()) later++;
    assert.equal(later, 12, "a long gap clears the whole window");
  });

  it("during a full outage, extra attempts stay near the ratio of the calls", () => {
    const clock = new FakeClock({ startMs: 0 });
    const b = new RetryBudget({ ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 }, clock);
    let calls = 0;
    let extra = 0;
    // 1000 calls/s for 30 s, every call asking for 2 retries.
    for (let ms = 0; ms < 30_000; ms++) {
      clock.advance(1);
      b.deposit();
      calls++;
      if (b.withdraw()) extra++;
      if (b.withdraw()) extra++;
    }
    const ratio = extra / calls;
    assert.ok(ratio <= 0.2 + 10 / 1000 + 0.005, `extra attempts ${ratio.toFixed(3)} of calls`);
    assert.ok(ratio >= 0.2, `the budget is used: ${ratio.toFixed(3)}`);
  });
});
