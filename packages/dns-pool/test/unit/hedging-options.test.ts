import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { resolvePoolOptions } from "../../src/options-resolve.js";

const target = "dns:///svc:80";

function invalid(options: object, pattern: RegExp) {
  assert.throws(
    () => resolvePoolOptions({ target, ...options }),
    (e: unknown) => {
      assert.ok(e instanceof ConnectError, String(e));
      assert.equal(e.code, Code.InvalidArgument);
      assert.match(e.rawMessage, pattern);
      return true;
    },
  );
}

describe("hedgingPolicy, retryThrottling and retryBudget options", () => {
  it("are off by default: no hedging, no throttle, and no budget without a retry or hedging policy", () => {
    const o = resolvePoolOptions({ target });
    assert.equal(o.hedgingPolicy, undefined);
    assert.equal(o.retryThrottling, undefined);
    assert.equal(o.retryBudget, undefined);
  });

  it("fill in A6's and Linkerd's defaults", () => {
    const o = resolvePoolOptions({
      target,
      hedgingPolicy: { maxAttempts: 2 },
      retryThrottling: { maxTokens: 10, tokenRatio: 0.1 },
    });
    assert.deepEqual(o.hedgingPolicy, {
      maxAttempts: 2,
      hedgingDelayMs: 0,
      hedgingDelayPercentile: 0,
      nonFatalCodes: [],
    });
    assert.equal(
      resolvePoolOptions({ target, hedgingPolicy: { maxAttempts: 2, hedgingDelayPercentile: 95 } })
        .hedgingPolicy?.hedgingDelayPercentile,
      95,
    );
    assert.deepEqual(o.retryThrottling, { maxTokens: 10, tokenRatio: 0.1 });
    assert.deepEqual(o.retryBudget, { ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 });
    const r = resolvePoolOptions({
      target,
      retryPolicy: { maxAttempts: 3, retryableCodes: [Code.Unavailable] },
    });
    assert.deepEqual(
      r.retryBudget,
      { ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 },
      "retries get the budget too",
    );
    const off = resolvePoolOptions({ target, hedgingPolicy: { maxAttempts: 2 }, retryBudget: false });
    assert.equal(off.retryBudget, undefined);
  });

  it("reject bad values with InvalidArgument naming the option and what to fix", () => {
    invalid(
      {
        hedgingPolicy: { maxAttempts: 2 },
        retryPolicy: { maxAttempts: 2, retryableCodes: [Code.Unavailable] },
      },
      /retryPolicy and options\.hedgingPolicy are exclusive \(gRFC A6\).*remove one of them/,
    );
    invalid(
      { hedgingPolicy: { maxAttempts: 2, hedgingDelayPercentile: 30 } },
      /options\.hedgingPolicy\.hedgingDelayPercentile must be a number from 50 to 99\.9, got 30/,
    );
    invalid(
      { hedgingPolicy: { maxAttempts: 2, hedgingDelayPercentile: 100 } },
      /options\.hedgingPolicy\.hedgingDelayPercentile must be a number from 50 to 99\.9, got 100/,
    );
    invalid(
      { hedgingPolicy: { maxAttempts: 6 } },
      /options\.hedgingPolicy\.maxAttempts must be a whole number from 2 to 5, got 6/,
    );
    invalid(
      { hedgingPolicy: {} },
      /options\.hedgingPolicy\.maxAttempts is required: attempts in all, 2 to 5/,
    );
    invalid(
      { hedgingPolicy: { maxAttempts: 2, hedgingDelayMs: -1 } },
      /hedgingPolicy\.hedgingDelayMs must be a number from 0/,
    );
    invalid(
      { hedgingPolicy: { maxAttempts: 2, nonFatalCodes: [99] } },
      /nonFatalCodes\[0\] must be a status code/,
    );
    invalid(
      { hedgingPolicy: { maxAttempts: 2, hedgeDelayMs: 5 } },
      /unknown option options\.hedgingPolicy\.hedgeDelayMs: did you mean hedgingDelayMs\?/,
    );
    invalid({ retryThrottling: { maxTokens: 10 } }, /options\.retryThrottling\.tokenRatio is required/);
    invalid(
      { retryThrottling: { maxTokens: 0, tokenRatio: 0.1 } },
      /retryThrottling\.maxTokens must be a number from 1 to 1000, got 0/,
    );
    invalid({ retryBudget: { ratio: -0.1 } }, /retryBudget\.ratio must be a number from 0 to 10/);
    invalid(
      { hedgingPolicy: { maxAttempts: 2 }, retryBudget: { ttlMs: 100 } },
      /retryBudget\.ttlMs must be a number from 1000 to 60000/,
    );
    invalid({ retryBudget: true }, /options\.retryBudget must be false or an object/);
  });
});
