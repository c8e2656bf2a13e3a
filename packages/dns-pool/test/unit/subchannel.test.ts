import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROBE_RETRY_MS, PROBE_TCP_TIMEOUT_MS } from "../../src/connection/subchannel.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { LIVENESS_TIMEOUT_CODE, neverProcessed } from "../../src/core/errors.js";
import { subchannelHarness } from "./subchannel-harness.js";

describe("Subchannel (connectivity states and reconnect backoff, over a fake connection)", () => {
  it("connects on request and is READY when the server's SETTINGS arrive", () => {
    const { dialer, subchannel, transitions } = subchannelHarness();
    assert.equal(subchannel.state, S.IDLE);
    subchannel.requestConnection();
    assert.equal(subchannel.state, S.CONNECTING);
    assert.equal(dialer.last.options.label, "10.0.0.1:8081");
    assert.equal(dialer.last.options.authority, "http://svc:8081");
    dialer.last.settings();
    assert.equal(subchannel.state, S.READY);
    assert.equal(dialer.last.ready, true);
    assert.deepEqual(transitions, ["IDLE->CONNECTING", "CONNECTING->READY"]);
  });

  it("a READY connection whose session closed under it fails the call as unsent at once (Node 22 throws from request(); retrying the same connection spun forever)", async () => {
    const { dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.settings();
    const connection = dialer.last;
    // Destroyed by keepalive or liveness: closing, but its "close" event has not come yet.
    connection.closing = true;
    let requests = 0;
    connection.request = () => {
      // A guard, so that a regression fails this test instead of hanging the suite.
      if (++requests > 10) connection.closing = false;
      throw Object.assign(new Error("The session has been destroyed"), { code: "ERR_HTTP2_INVALID_SESSION" });
    };
    await assert.rejects(
      subchannel.openStream({ ":method": "POST", ":path": "/rng.Rng/Rng" }),
      (err: Error) => {
        assert.equal(neverProcessed(err), true, "unsent: the call runner retries it transparently elsewhere");
        assert.match(err.message, /closed before the call was sent/);
        return true;
      },
    );
    assert.equal(requests, 1, "the closing connection was asked once");
    assert.notEqual(subchannel.state, S.READY, "it left READY at once");
    assert.equal(dialer.connections.length, 2, "and is reconnecting");
  });

  it("probes a pod lost to silence at a steady pace (the next attempt 250 ms after a failed one, whose TCP handshake may take 1 s), until it is READY again", () => {
    const { clock, dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.settings();
    assert.equal(dialer.last.options.tcpConnectTimeoutMs, undefined, "no TCP limit of its own normally");
    // Liveness found the connection silent and destroyed it.
    dialer.last.drop(Object.assign(new Error("connection is silent"), { code: LIVENESS_TIMEOUT_CODE }));
    assert.equal(subchannel.state, S.CONNECTING, "reconnects at once");
    for (let attempt = 2; attempt <= 6; attempt++) {
      assert.equal(dialer.connections.length, attempt);
      assert.equal(dialer.last.options.tcpConnectTimeoutMs, PROBE_TCP_TIMEOUT_MS);
      dialer.last.drop(Object.assign(new Error("no TCP connection"), { code: "ETIMEDOUT" }));
      assert.equal(subchannel.state, S.TRANSIENT_FAILURE);
      // Without probing the backoff would be 1, 2, 3, 3 s (initial 1 s, x2, max 3 s).
      clock.advance(PROBE_RETRY_MS);
    }
    dialer.last.settings();
    assert.equal(subchannel.state, S.READY);
    // Answered: back to the ordinary backoff after the next loss (a GOAWAY is not silence).
    dialer.last.goaway();
    assert.equal(dialer.last.options.tcpConnectTimeoutMs, undefined);
    dialer.last.drop(new Error("connect ECONNREFUSED"));
    clock.advance(1000);
    dialer.last.drop(new Error("connect ECONNREFUSED"));
    const before = dialer.connections.length;
    clock.advance(1000);
    assert.equal(dialer.connections.length, before, "the second retry waits 2 s again");
    clock.advance(1000);
    assert.equal(dialer.connections.length, before + 1);
  });

  it("backs off exponentially after failures, and starts over after a success", () => {
    const { clock, dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.drop(new Error("connect ECONNREFUSED 10.0.0.1:8081"));
    assert.equal(subchannel.state, S.TRANSIENT_FAILURE);
    assert.equal(subchannel.lastError?.message, "connect ECONNREFUSED 10.0.0.1:8081");
    clock.advance(999);
    assert.equal(subchannel.state, S.TRANSIENT_FAILURE);
    clock.advance(1);
    assert.equal(subchannel.state, S.CONNECTING, "retried after 1 s");
    dialer.last.drop(new Error("refused again"));
    clock.advance(1999);
    assert.equal(dialer.connections.length, 2);
    clock.advance(1);
    assert.equal(dialer.connections.length, 3, "then after 2 s");
    dialer.last.settings();
    dialer.last.drop(new Error("reset"));
    assert.equal(
      subchannel.state,
      S.CONNECTING,
      "a lost READY connection reconnects at once (IDLE -> CONNECTING)",
    );
    dialer.last.drop(new Error("refused"));
    clock.advance(1000);
    assert.equal(dialer.connections.length, 5, "backoff was reset by the success: 1 s again");
  });

  it("fails a stream request fast while in TRANSIENT_FAILURE, as never processed", async () => {
    const { dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.drop(new Error("connect ECONNREFUSED"));
    await assert.rejects(subchannel.openStream({ ":path": "/x" }), (e: unknown) => neverProcessed(e));
  });

  it("GOAWAY: the connection is lost (IDLE), counted, reported, and a new one is dialed", () => {
    const { dialer, subchannel, transitions, goaways } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.settings();
    dialer.last.goaway();
    assert.equal(subchannel.connectionLosses, 1);
    assert.equal(goaways(), 1);
    assert.deepEqual(transitions.slice(-2), ["READY->IDLE", "IDLE->CONNECTING"]);
    assert.equal(dialer.connections.length, 2);
  });

  it("a failure while not wanted goes back to IDLE after the backoff", () => {
    const { clock, dialer, subchannel } = subchannelHarness();
    void subchannel.openStream({ ":path": "/x" }).catch(() => {}); // connects without requestConnection()
    dialer.last.drop(new Error("refused"));
    clock.advance(1000);
    assert.equal(subchannel.state, S.IDLE);
  });

  it("shutdown: SHUTDOWN, connections closed gracefully, no more dialing", async () => {
    const { clock, dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.settings();
    await subchannel.shutdown();
    assert.equal(subchannel.state, S.SHUTDOWN);
    assert.equal(dialer.last.closedGracefully, true);
    clock.advance(60_000);
    assert.equal(dialer.connections.length, 1);
    await assert.rejects(subchannel.openStream({ ":path": "/x" }), /removed from the pool/);
  });
});

describe("Subchannel.release (pick_first no longer wants it)", () => {
  it("cancels an attempt under way: IDLE, the socket destroyed, no reconnect", () => {
    const { clock, dialer, subchannel, transitions } = subchannelHarness();
    subchannel.requestConnection();
    const attempt = dialer.last;
    subchannel.release();
    assert.equal(attempt.closedGracefully, false, "destroyed, not drained");
    assert.equal(subchannel.state, S.IDLE);
    assert.deepEqual(
      transitions,
      ["IDLE->CONNECTING", "CONNECTING->IDLE"],
      "no TRANSIENT_FAILURE for a cancel",
    );
    clock.advance(60_000);
    assert.equal(dialer.connections.length, 1, "no retry");
    subchannel.requestConnection();
    assert.equal(subchannel.state, S.CONNECTING, "asked again, it starts over");
  });

  it("closes a READY connection gracefully (its calls finish), with no reconnect", () => {
    const { clock, dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.settings();
    subchannel.release();
    assert.equal(dialer.last.closedGracefully, true);
    assert.equal(subchannel.state, S.IDLE);
    clock.advance(60_000);
    assert.equal(dialer.connections.length, 1, "no reconnect");
  });

  it("a failed one finishes its backoff, then rests IDLE instead of retrying", () => {
    const { clock, dialer, subchannel } = subchannelHarness();
    subchannel.requestConnection();
    dialer.last.drop(new Error("ECONNREFUSED"));
    assert.equal(subchannel.state, S.TRANSIENT_FAILURE);
    subchannel.release();
    assert.equal(subchannel.state, S.TRANSIENT_FAILURE, "asked again now, it would not be retried at once");
    clock.advance(1000);
    assert.equal(subchannel.state, S.IDLE);
    clock.advance(60_000);
    assert.equal(dialer.connections.length, 1, "no retry");
  });
});
