import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { formatCallJson, formatCallLine, formatLogTime, runLoop } from "../src/run.js";
import {
  type CallOutcome,
  codeName,
  formatSummary,
  formatSummaryJson,
  NO_ADDRESS,
  percentile,
  SummaryCollector,
} from "../src/summary.js";

const T = new Date(2026, 10, 25, 10, 18, 1, 500);

function ok(address: string, rn: bigint, latencyMs: number, time = T): CallOutcome {
  return { time, rn, address, latencyMs, code: "OK", message: undefined };
}
function failed(address: string | undefined, code: string, latencyMs: number): CallOutcome {
  return { time: T, rn: undefined, address, latencyMs, code, message: "boom" };
}

describe("percentile", () => {
  it("is the nearest rank", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(xs, 50), 50);
    assert.equal(percentile(xs, 99), 99);
    assert.equal(percentile(xs, 100), 100);
    assert.equal(percentile(xs, 0), 1);
    assert.equal(percentile([7], 50), 7);
    assert.equal(percentile([7], 99), 7);
    assert.equal(percentile([1, 2, 3], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 99), 4);
    assert.equal(percentile([], 50), undefined);
  });
});

describe("codeName", () => {
  it("gives gRPC's canonical names", () => {
    assert.equal(codeName(Code.Unavailable), "UNAVAILABLE");
    assert.equal(codeName(Code.DeadlineExceeded), "DEADLINE_EXCEEDED");
    assert.equal(codeName(Code.InvalidArgument), "INVALID_ARGUMENT");
    assert.equal(codeName(Code.Unauthenticated), "UNAUTHENTICATED");
  });
});

describe("SummaryCollector", () => {
  it("summarizes per address, in numeric address order, with totals", () => {
    const c = new SummaryCollector();
    for (let i = 1; i <= 4; i++) c.add(ok("127.0.0.10:81", 10n, i));
    for (let i = 1; i <= 2; i++) c.add(ok("127.0.0.9:81", 9n, 10 * i));
    c.add(failed("127.0.0.9:81", "UNAVAILABLE", 100));
    c.add(failed(undefined, "DEADLINE_EXCEEDED", 2000));
    const s = c.summary();
    assert.deepEqual(
      s.endpoints.map((r) => [r.address, r.calls, r.errors, r.p50Ms, r.p99Ms, r.rn]),
      [
        ["127.0.0.9:81", 3, 1, 20, 100, "9"],
        ["127.0.0.10:81", 4, 0, 2, 4, "10"],
        [NO_ADDRESS, 1, 1, 2000, 2000, undefined],
      ],
    );
    assert.deepEqual([s.total.calls, s.total.errors, s.total.p50Ms, s.total.p99Ms], [8, 2, 4, 2000]);
    assert.deepEqual(s.errorsByCode, { DEADLINE_EXCEEDED: 1, UNAVAILABLE: 1 });
    assert.equal(c.errors, 2);
  });

  it("measures from the first call's start to the last call's end", () => {
    const c = new SummaryCollector();
    c.add(ok("a:1", 1n, 100, new Date(10_000)));
    c.add(ok("a:1", 1n, 50, new Date(12_000)));
    assert.equal(c.summary().durationMs, 2100);
    assert.equal(new SummaryCollector().summary().durationMs, 0);
  });

  it("formats a text table and a JSON line", () => {
    const c = new SummaryCollector();
    c.add(ok("127.0.0.2:8081", 123n, 0.5));
    c.add(ok("127.0.0.3:8081", 456n, 12.25));
    c.add(failed("127.0.0.3:8081", "UNAVAILABLE", 150));
    const text = formatSummary(c.summary());
    const lines = text.split("\n");
    assert.match(lines[0]!, /^summary: 3 calls to 2 addresses in \d+\.\d s, errors: 1 UNAVAILABLE$/);
    assert.match(lines[1]!, /^address\s+calls\s+errors\s+p50 ms\s+p99 ms\s+rn$/);
    assert.match(text, /^127\.0\.0\.2:8081\s+1\s+0\s+0\.50\s+0\.50\s+123$/m);
    assert.match(text, /^127\.0\.0\.3:8081\s+2\s+1\s+12\.3\s+150\s+456$/m);
    assert.match(text, /^total\s+3\s+1\s+12\.3\s+150$/m);
    const json = JSON.parse(formatSummaryJson(c.summary()));
    assert.equal(json.summary.total.calls, 3);
    assert.equal(json.summary.endpoints[1].rn, "456");
    assert.deepEqual(json.summary.errorsByCode, { UNAVAILABLE: 1 });
  });

  it("says no errors when there are none", () => {
    const c = new SummaryCollector();
    c.add(ok("127.0.0.2:8081", 1n, 1));
    assert.match(formatSummary(c.summary()), /^summary: 1 calls to 1 address in .*, no errors$/m);
  });
});

describe("call lines", () => {
  it("print the time as Go's log does, the number and the address", () => {
    assert.equal(formatLogTime(T), "2026/11/25 10:18:01");
    assert.equal(
      formatCallLine(ok("127.0.0.2:8081", 7754383576636566559n, 0.813)),
      "2026/11/25 10:18:01 request 7754383576636566559 from 127.0.0.2:8081 (0.81 ms)",
    );
    assert.equal(
      formatCallLine(failed("127.0.0.2:8081", "UNAVAILABLE", 3)),
      "2026/11/25 10:18:01 error UNAVAILABLE from 127.0.0.2:8081 (3.00 ms): boom",
    );
    assert.equal(
      formatCallLine(failed(undefined, "DEADLINE_EXCEEDED", 2000.4)),
      "2026/11/25 10:18:01 error DEADLINE_EXCEEDED (2000 ms): boom",
    );
  });

  it("print JSON with the int64 as a string", () => {
    assert.deepEqual(JSON.parse(formatCallJson(ok("127.0.0.2:8081", 7754383576636566559n, 0.8134))), {
      time: T.toISOString(),
      rn: "7754383576636566559",
      address: "127.0.0.2:8081",
      latencyMs: 0.813,
      code: "OK",
    });
    assert.deepEqual(JSON.parse(formatCallJson(failed(undefined, "UNAVAILABLE", 1))), {
      time: T.toISOString(),
      rn: null,
      address: null,
      latencyMs: 1,
      code: "UNAVAILABLE",
      message: "boom",
    });
  });
});

describe("runLoop", () => {
  const fakeCall = (log: number[]) => {
    let n = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    return {
      call: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 2));
        inFlight--;
        log.push(++n);
        return ok("a:1", 1n, 2);
      },
      max: () => maxInFlight,
    };
  };

  it("makes exactly --count calls, at most --concurrency at once", async () => {
    const log: number[] = [];
    const f = fakeCall(log);
    const seen: CallOutcome[] = [];
    await runLoop({
      call: f.call,
      intervalMs: 1,
      count: 10,
      concurrency: 3,
      signal: new AbortController().signal,
      onOutcome: (o) => seen.push(o),
    });
    assert.equal(seen.length, 10);
    assert.equal(f.max(), 3);
  });

  it("does not pause after the last call", async () => {
    const started = Date.now();
    await runLoop({
      call: fakeCall([]).call,
      intervalMs: 5000,
      count: 1,
      concurrency: 4,
      signal: new AbortController().signal,
      onOutcome: () => {},
    });
    assert.ok(Date.now() - started < 1000);
  });

  it("stops starting calls when aborted, even mid-pause, and reports calls in flight", async () => {
    const stop = new AbortController();
    const seen: CallOutcome[] = [];
    const started = Date.now();
    const done = runLoop({
      call: fakeCall([]).call,
      intervalMs: 10_000,
      count: undefined,
      concurrency: 2,
      signal: stop.signal,
      onOutcome: (o) => seen.push(o),
    });
    await new Promise((r) => setTimeout(r, 50));
    stop.abort();
    await done;
    assert.equal(seen.length, 2);
    assert.ok(Date.now() - started < 2000);
  });

  it("lets timers run between calls that fail at once, with no interval", async () => {
    const stop = new AbortController();
    let calls = 0;
    setTimeout(() => stop.abort(), 20);
    await runLoop({
      call: async () => {
        calls++;
        return failed(undefined, "UNAVAILABLE", 0);
      },
      intervalMs: 0,
      count: undefined,
      concurrency: 1,
      signal: stop.signal,
      onOutcome: () => {},
    });
    assert.ok(calls > 0);
  });
});
