import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { Retry } from "../../src/call/retry.js";
import { Backoff, resolutionBackoff } from "../../src/core/backoff.js";
import { unsentError } from "../../src/core/errors.js";

describe("Backoff", () => {
  it("grows by the multiplier up to the max, and starts over after reset()", () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 5000, multiplier: 2, jitter: 0.2 }, () => 0.5);
    assert.deepEqual(
      Array.from({ length: 5 }, () => b.nextDelayMs()),
      [1000, 2000, 4000, 5000, 5000],
    );
    b.reset();
    assert.equal(b.nextDelayMs(), 1000);
  });

  it("spreads by ±jitter", () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 5000, multiplier: 1.6, jitter: 0.2 }, () => 0);
    const high = new Backoff({ initialMs: 1000, maxMs: 5000, multiplier: 1.6, jitter: 0.2 }, () => 0.999999);
    assert.equal(low.nextDelayMs(), 800);
    assert.equal(high.nextDelayMs(), 1200);
  });

  it("resolution backoff doubles from min to max interval", () => {
    const b = resolutionBackoff(100, 300);
    const delays = Array.from({ length: 4 }, () => b.nextDelayMs());
    assert.ok(delays[0]! >= 80 && delays[0]! <= 120, String(delays));
    assert.ok(delays[3]! >= 240 && delays[3]! <= 360, String(delays));
  });
});

describe("Retry (transparent and gRFC A6)", () => {
  const policy = {
    maxAttempts: 3,
    retryableCodes: [Code.Unavailable],
    initialBackoffMs: 100,
    maxBackoffMs: 150,
    backoffMultiplier: 2,
  };

  it("retries a never-sent call transparently, up to the budget, without delay", () => {
    const r = new Retry(2, undefined);
    const state = r.start();
    const err = unsentError("cannot connect");
    assert.deepEqual(r.next(state, err, 0, undefined), { kind: "transparent" });
    assert.deepEqual(r.next(state, err, 0, undefined), { kind: "transparent" });
    assert.equal(r.next(state, err, 0, undefined), undefined);
  });

  it("retries a processed call only with a policy listing its code, with jittered exponential backoff", () => {
    const r = new Retry(0, policy, () => 1);
    const state = r.start();
    const err = new ConnectError("down", Code.Unavailable);
    assert.equal(new Retry(0, undefined).next(new Retry(0, undefined).start(), err, 0, undefined), undefined);
    assert.equal(r.next(r.start(), new ConnectError("bad", Code.Internal), 0, undefined), undefined);
    assert.deepEqual(r.next(state, err, 0, undefined), { kind: "policy", delayMs: 100 });
    assert.deepEqual(r.next(state, err, 0, undefined), { kind: "policy", delayMs: 150 }); // 200 capped
    assert.equal(r.next(state, err, 0, undefined), undefined, "maxAttempts 3 reached");
  });

  it("gives up when the delay would pass the deadline", () => {
    const r = new Retry(0, policy, () => 0.5); // delay 50
    const err = new ConnectError("down", Code.Unavailable);
    assert.equal(r.next(r.start(), err, 960, 1000), undefined);
    assert.deepEqual(r.next(r.start(), err, 900, 1000), { kind: "policy", delayMs: 50 });
  });
});
