import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Liveness, type ResolvedLiveness, ResponseTimes } from "../../src/connection/liveness.js";
import { lostToLiveness } from "../../src/core/errors.js";
import { FakeClock } from "../../src/testing/index.js";

const FIXED: ResolvedLiveness = { pingAfterMs: 300, pingTimeoutMs: 1000, suspectAfterMs: 100 };

function setup(options: ResolvedLiveness = FIXED, times = new ResponseTimes()) {
  const clock = new FakeClock();
  const pings: (() => void)[] = [];
  const dead: Error[] = [];
  const suspicions: boolean[] = [];
  const liveness: Liveness = new Liveness(
    options,
    times,
    "10.0.0.1:8081",
    {
      ping: (acked) => {
        pings.push(acked);
        return true;
      },
      dead: (e) => dead.push(e),
      suspectChanged: () => suspicions.push(liveness.suspect),
    },
    clock,
  );
  return { clock, liveness, pings, dead, suspicions, times };
}

describe("Liveness (one connection's silent-server detection, on a fake clock)", () => {
  it("a call with nothing back: suspect at suspectAfterMs, one PING at pingAfterMs, dead after pingTimeoutMs", () => {
    const { clock, liveness, pings, dead, suspicions } = setup();
    liveness.callStarted();
    clock.advance(99);
    assert.equal(liveness.suspect, false);
    clock.advance(1);
    assert.equal(liveness.suspect, true, "no picks after 100 ms of silence");
    clock.advance(199);
    assert.equal(pings.length, 0);
    clock.advance(1);
    assert.equal(pings.length, 1, "one PING at 300 ms");
    clock.advance(999);
    assert.equal(dead.length, 0);
    clock.advance(1);
    assert.equal(dead.length, 1);
    assert.ok(lostToLiveness(dead[0]), "the error carries the liveness code");
    assert.match(
      dead[0]!.message,
      /10\.0\.0\.1:8081 is silent: calls waited 300 ms .* no answer within 1000 ms/,
    );
    assert.deepEqual(suspicions, [true]);
  });

  it("a legitimately slow call: the PING is acked, nothing is cut, and no second PING in the quiet period", () => {
    const { clock, liveness, pings, dead } = setup();
    liveness.callStarted();
    clock.advance(300);
    assert.equal(pings.length, 1);
    clock.advance(2);
    pings[0]!(); // the ACK
    assert.equal(liveness.suspect, false, "trusted again as soon as it answers");
    clock.advance(60_000);
    assert.equal(pings.length, 1, "the same old call earns no more PINGs");
    assert.equal(dead.length, 0);
    liveness.answered(); // its response: a new quiet period
    liveness.callEnded();
  });

  it("at most two PINGs per quiet period (one strike at most), the second only for a call started after the first ACK", () => {
    const { clock, liveness, pings } = setup();
    liveness.callStarted();
    clock.advance(300);
    pings[0]!();
    liveness.callStarted(); // a new call after the ACK stalls too
    clock.advance(300);
    assert.equal(pings.length, 2);
    pings[1]!();
    liveness.callStarted();
    clock.advance(10_000);
    assert.equal(pings.length, 2, "no third PING until the server sends headers or data");
    assert.equal(liveness.suspect, true, "but the stalled call keeps it out of picks");
    liveness.answered();
    assert.equal(liveness.suspect, false);
    liveness.callStarted();
    clock.advance(300);
    assert.equal(pings.length, 3, "a new quiet period, a new PING");
  });

  it("answers keep it quiet: no suspicion, no PING while the server answers calls", () => {
    const { clock, liveness, pings, suspicions } = setup();
    liveness.callStarted();
    for (let i = 0; i < 100; i++) {
      clock.advance(50);
      liveness.answered();
      liveness.callStarted();
      liveness.callEnded();
    }
    assert.equal(pings.length, 0);
    assert.deepEqual(suspicions, []);
  });

  it("suspect when its peers answered many calls since it last did, with a PING at once", () => {
    const times = new ResponseTimes();
    const { liveness, pings } = setup(FIXED, times);
    for (let i = 0; i < 4; i++) liveness.callStarted();
    // Other connections of the pool: 12 calls in flight, answering.
    times.inFlight += 12;
    times.answers += 10;
    liveness.callStarted();
    assert.equal(liveness.suspect, false, "10 answers in the pool are not enough: 5 x 17/5 are expected");
    times.answers += 10;
    liveness.callStarted();
    assert.equal(liveness.suspect, true);
    assert.equal(pings.length, 1);
    pings[0]!();
    assert.equal(liveness.suspect, false);
  });

  it("adaptive thresholds follow the pool's response times, within their bounds", () => {
    const times = new ResponseTimes();
    const { liveness } = setup(
      { pingAfterMs: undefined, pingTimeoutMs: 1000, suspectAfterMs: undefined },
      times,
    );
    assert.equal(liveness.pingAfterMs, 250, "the floor before any response");
    assert.equal(liveness.suspectAfterMs, 100);
    for (let i = 0; i < 64; i++) times.record(5);
    assert.equal(liveness.pingAfterMs, 250);
    assert.equal(liveness.suspectAfterMs, 20);
    for (let i = 0; i < 256; i++) times.record(60);
    assert.equal(liveness.pingAfterMs, 480);
    assert.equal(liveness.suspectAfterMs, 180);
    for (let i = 0; i < 256; i++) times.record(10_000);
    assert.equal(liveness.pingAfterMs, 750, "a slow service does not push detection past 750 + 1000 ms");
    assert.equal(liveness.suspectAfterMs, 750);
  });

  it("a call that ends clears suspicion; stop() ends every timer", () => {
    const { clock, liveness, pings, times } = setup();
    liveness.callStarted();
    clock.advance(100);
    assert.equal(liveness.suspect, true);
    liveness.callEnded();
    assert.equal(liveness.suspect, false);
    assert.equal(times.inFlight, 0);
    liveness.callStarted();
    liveness.stop();
    assert.equal(times.inFlight, 0, "a closed connection's calls leave the pool's count");
    clock.advance(10_000);
    assert.equal(pings.length, 0);
  });
});
