import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aggregateState } from "../../src/call/aggregate-state.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";

const ctx = { resolutionFailed: false, active: true, resolvedOnce: true };

describe("aggregateState (gRPC's rules)", () => {
  it("READY if any endpoint is READY", () => {
    assert.equal(aggregateState([S.TRANSIENT_FAILURE, S.READY, S.IDLE], ctx), S.READY);
  });

  it("else CONNECTING if any is connecting", () => {
    assert.equal(aggregateState([S.TRANSIENT_FAILURE, S.CONNECTING], ctx), S.CONNECTING);
  });

  it("TRANSIENT_FAILURE only when every endpoint fails", () => {
    assert.equal(aggregateState([S.TRANSIENT_FAILURE, S.TRANSIENT_FAILURE], ctx), S.TRANSIENT_FAILURE);
    assert.equal(aggregateState([S.TRANSIENT_FAILURE, S.IDLE], ctx), S.CONNECTING);
  });

  it("mixed IDLE/failing: CONNECTING while active, IDLE while lazy", () => {
    assert.equal(aggregateState([S.IDLE, S.TRANSIENT_FAILURE], { ...ctx, active: false }), S.IDLE);
    assert.equal(aggregateState([S.IDLE], ctx), S.CONNECTING);
  });

  it("no addresses: failing resolution is TRANSIENT_FAILURE; before the first one, CONNECTING", () => {
    assert.equal(aggregateState([], { ...ctx, resolutionFailed: true }), S.TRANSIENT_FAILURE);
    assert.equal(
      aggregateState([], { resolutionFailed: false, active: false, resolvedOnce: false }),
      S.CONNECTING,
    );
    assert.equal(aggregateState([], { resolutionFailed: false, active: false, resolvedOnce: true }), S.IDLE);
    assert.equal(
      aggregateState([], { resolutionFailed: false, active: true, resolvedOnce: true }),
      S.CONNECTING,
    );
  });

  it("SHUTDOWN endpoints count as neither ready nor failing", () => {
    assert.equal(aggregateState([S.SHUTDOWN, S.TRANSIENT_FAILURE], ctx), S.CONNECTING);
  });
});
