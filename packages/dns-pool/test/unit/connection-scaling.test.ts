import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ConnectionScaling } from "../../src/connection/connection-scaling.js";
import { unaryExchange } from "../../src/connection/unary-exchange.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { neverProcessed } from "../../src/core/errors.js";
import { resolvePoolOptions } from "../../src/options-resolve.js";
import { flushMicrotasks } from "../../src/testing/index.js";
import { subchannelHarness } from "./subchannel-harness.js";

const CALL = { ":method": "POST", ":path": "/rng.Rng/Rng" };

function setup(scaling: Partial<ConnectionScaling>, maxConcurrentStreams = 2, deferClose = false) {
  const t = subchannelHarness({
    scaling: { max: 1, min: 1, idleMs: 30_000, ...scaling },
    maxConcurrentStreams,
    deferClose,
  });
  /** Opens a stream, noting where it went once it did. */
  const open = (signal?: AbortSignal) => {
    const r: { settled: boolean; error?: unknown } = { settled: false };
    t.subchannel.openStream(CALL, {}, signal).then(
      () => {
        r.settled = true;
      },
      (e: unknown) => {
        r.settled = true;
        r.error = e;
      },
    );
    return r;
  };
  return { ...t, open };
}

/** Connects the first connection (READY). */
async function ready(t: ReturnType<typeof setup>) {
  t.subchannel.requestConnection();
  t.dialer.last.settings();
  await flushMicrotasks();
}

/**
 * READY with `calls` calls open, two streams a connection: two on the lead,
 * the rest on an extra connection, READY too. Returns both connections.
 */
async function onTwoConnections(scaling: Partial<ConnectionScaling>, calls: number) {
  const t = setup(scaling);
  await ready(t);
  for (let i = 0; i < calls; i++) t.open();
  await flushMicrotasks();
  t.dialer.last.settings();
  await flushMicrotasks();
  const [first, second] = t.dialer.connections;
  assert.ok(first && second);
  return { t, first, second };
}

/**
 * READY with three calls open, two streams a connection: two on the lead,
 * the third (`queued`, opened with `signal`) waiting for the extra
 * connection attempt it started.
 */
async function queuedBehindExtraAttempt(
  scaling: Partial<ConnectionScaling> = { max: 2 },
  signal?: AbortSignal,
) {
  const t = setup(scaling);
  await ready(t);
  t.open();
  t.open();
  const queued = t.open(signal);
  await flushMicrotasks();
  return { t, queued };
}

/** The newest connection attempt is refused, as by a host with nothing listening. */
async function refuseLast(t: ReturnType<typeof setup>) {
  t.dialer.last.drop(new Error("connect ECONNREFUSED 10.0.0.1:8081"));
  await flushMicrotasks();
}

describe("connection scaling (gRFC A105, over fake connections)", () => {
  it("with one connection (the default), calls beyond MAX_CONCURRENT_STREAMS queue inside it: no second connection", async () => {
    const t = setup({ max: 1 });
    await ready(t);
    const calls = [t.open(), t.open(), t.open(), t.open()];
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 1);
    assert.equal(t.dialer.last.openStreams, 4, "all four on the one connection (the server makes two wait)");
    assert.ok(calls.every((c) => c.settled && c.error === undefined));
  });

  it("opens another connection when every one is full, one attempt at a time, and queues only until it is up", async () => {
    const t = setup({ max: 3 });
    await ready(t);
    const [a, b, c, d] = [t.open(), t.open(), t.open(), t.open()];
    await flushMicrotasks();
    assert.ok(a.settled && b.settled, "two fit the first connection");
    assert.ok(!c.settled && !d.settled, "the rest wait for a new connection");
    assert.equal(t.dialer.connections.length, 2, "one attempt, not two");
    assert.equal(t.subchannel.state, S.READY, "an extra attempt leaves the endpoint READY");
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.ok(c.settled && d.settled && c.error === undefined && d.error === undefined);
    assert.equal(t.dialer.connections[0]?.openStreams, 2);
    assert.equal(t.dialer.connections[1]?.openStreams, 2);
    assert.equal(t.subchannel.openConnections, 2);
    assert.equal(t.subchannel.connectionsOpened, 2);
    assert.deepEqual(t.transitions, ["IDLE->CONNECTING", "CONNECTING->READY"]);
  });

  it("at the limit, a queued call goes out when a stream ends, in arrival order, on the oldest connection with room", async () => {
    const { t, first, second } = await onTwoConnections({ max: 2 }, 4);
    const e = t.open();
    const f = t.open();
    await flushMicrotasks();
    assert.ok(!e.settled && !f.settled, "both connections full, none more allowed");
    assert.equal(t.dialer.connections.length, 2);
    second.endStream();
    await flushMicrotasks();
    assert.ok(e.settled && !f.settled, "the first in line takes the freed slot");
    assert.equal(second.openStreams, 2);
    first.endStream();
    await flushMicrotasks();
    assert.ok(f.settled);
    assert.equal(first.openStreams, 2);
    // Room on both: the oldest wins.
    first.endStream();
    second.endStream();
    t.open();
    await flushMicrotasks();
    assert.equal(first.openStreams, 2);
    assert.equal(second.openStreams, 1);
  });

  it("a higher MAX_CONCURRENT_STREAMS in new SETTINGS lets queued calls go", async () => {
    const t = setup({ max: 1 + 1 }, 1);
    await ready(t);
    t.open();
    const b = t.open();
    await flushMicrotasks();
    assert.ok(!b.settled);
    t.dialer.connections[0]?.setMaxConcurrentStreams(5);
    await flushMicrotasks();
    assert.ok(b.settled && b.error === undefined);
    assert.equal(t.dialer.connections[0]?.openStreams, 2);
  });

  it("GOAWAY on one connection leaves the others serving: still READY, new calls go to the others", async () => {
    const { t, first, second } = await onTwoConnections({ max: 3 }, 3);
    first.goaway();
    assert.equal(t.goaways(), 1, "the endpoint hears of it (DNS may have news)");
    assert.equal(t.subchannel.state, S.READY);
    assert.equal(t.subchannel.openConnections, 1);
    const c = t.open();
    await flushMicrotasks();
    assert.ok(c.settled);
    assert.equal(second.openStreams, 2, "the new call went to the connection left");
    assert.equal(first.openStreams, 2, "the going-away connection's calls finish there");
    assert.deepEqual(t.transitions, ["IDLE->CONNECTING", "CONNECTING->READY"]);
  });

  it("READY -> CONNECTING when the last connection goes while an extra attempt is in flight", async () => {
    const { t, queued: c } = await queuedBehindExtraAttempt();
    assert.equal(t.dialer.connections.length, 2);
    t.dialer.connections[0]?.drop(new Error("read ECONNRESET"));
    assert.equal(t.subchannel.state, S.CONNECTING);
    assert.equal(t.dialer.connections.length, 2, "no second attempt: the one in flight serves");
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.subchannel.state, S.READY);
    assert.ok(c.settled && c.error === undefined, "the queued call went on the new connection");
    assert.deepEqual(t.transitions, [
      "IDLE->CONNECTING",
      "CONNECTING->READY",
      "READY->CONNECTING",
      "CONNECTING->READY",
    ]);
  });

  it("a failed extra attempt backs off (the endpoint's shared backoff) and stays READY; losing the last connection then is TRANSIENT_FAILURE and fails the queued calls", async () => {
    const { t, queued: c } = await queuedBehindExtraAttempt();
    await refuseLast(t);
    assert.equal(t.subchannel.state, S.READY);
    assert.equal(t.dialer.connections.length, 2, "no new attempt during the backoff");
    assert.ok(!c.settled, "the call still waits (a stream may free up)");
    t.clock.advance(999);
    assert.equal(t.dialer.connections.length, 2);
    t.clock.advance(1);
    assert.equal(t.dialer.connections.length, 3, "retried after the 1 s backoff");
    await refuseLast(t);
    t.dialer.connections[0]?.drop(new Error("read ECONNRESET"));
    assert.equal(t.subchannel.state, S.TRANSIENT_FAILURE, "READY -> TRANSIENT_FAILURE in the backoff");
    await flushMicrotasks();
    assert.ok(c.settled && neverProcessed(c.error), "no connection left: the queued call fails, never sent");
    assert.match(
      String((c.error as Error).message),
      /connections to 10\.0\.0\.1:8081 were lost: read ECONNRESET/,
    );
    t.clock.advance(2000);
    assert.equal(t.subchannel.state, S.CONNECTING, "reconnects after the backoff");
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.subchannel.state, S.READY);
  });

  it("queued calls fail UNAVAILABLE, never sent, when the endpoint cannot connect or leaves the pool", async () => {
    const t = setup({ max: 2 });
    t.subchannel.requestConnection();
    const a = t.open();
    await flushMicrotasks();
    assert.ok(!a.settled);
    await refuseLast(t);
    assert.ok(a.settled && neverProcessed(a.error));
    t.clock.advance(1000);
    t.dialer.last.settings();
    await flushMicrotasks();
    t.open();
    t.open();
    const b = t.open();
    await flushMicrotasks();
    await t.subchannel.shutdown(false);
    await flushMicrotasks();
    assert.ok(b.settled && neverProcessed(b.error));
    assert.equal((b.error as ConnectError).code, Code.Unavailable);
  });

  it("closes an extra connection idle for extraConnectionIdleMs, keeps the first", async () => {
    const { t, first, second } = await onTwoConnections({ max: 2, idleMs: 5000 }, 3);
    second.endStream();
    t.clock.advance(4000);
    assert.equal(second.closedGracefully, undefined, "not idle long enough");
    t.open(); // back in use (the first is full): idle no more
    await flushMicrotasks();
    assert.equal(second.openStreams, 1);
    second.endStream();
    t.clock.advance(4999);
    assert.equal(second.closedGracefully, undefined);
    t.clock.advance(1);
    assert.equal(second.closedGracefully, true, "closed gracefully after 5 s without a stream");
    assert.equal(t.subchannel.openConnections, 1);
    first.endStream();
    first.endStream();
    t.clock.advance(60_000);
    assert.equal(first.closedGracefully, undefined, "the first connection stays");
    assert.equal(t.subchannel.state, S.READY);
  });

  it("minConnections opens that many up front, spreads streams over them, keeps them when idle and replaces a lost one", async () => {
    const t = setup({ max: 3, min: 3, idleMs: 1000 }, 100);
    await ready(t);
    assert.equal(t.dialer.connections.length, 2, "the second attempt starts once the first is READY");
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 3);
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.subchannel.openConnections, 3);
    for (let i = 0; i < 9; i++) t.open();
    await flushMicrotasks();
    assert.deepEqual(
      t.dialer.connections.map((c) => c.openStreams),
      [3, 3, 3],
      "fewest open streams first",
    );
    for (const c of t.dialer.connections) while (c.openStreams > 0) c.endStream();
    t.clock.advance(10_000);
    assert.equal(t.subchannel.openConnections, 3, "connections up to the minimum stay when idle");
    t.dialer.connections[1]?.drop(new Error("read ECONNRESET"));
    assert.equal(t.dialer.connections.length, 4, "a lost one is replaced");
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.subchannel.openConnections, 3);
  });
});

describe("connection scaling: attempts, backoff and queued calls (review fixes)", () => {
  it("a released endpoint does not reconnect when an extra attempt's backoff ends: it rests IDLE", async () => {
    const { t } = await queuedBehindExtraAttempt();
    t.dialer.last.drop(new Error("connect ECONNREFUSED 10.0.0.1:8081"));
    t.dialer.connections[0]?.drop(new Error("read ECONNRESET"));
    await flushMicrotasks();
    assert.equal(t.subchannel.state, S.TRANSIENT_FAILURE);
    t.subchannel.release();
    const dialed = t.dialer.connections.length;
    t.clock.advance(60_000);
    await flushMicrotasks();
    assert.equal(t.subchannel.state, S.IDLE, "released: IDLE once the backoff is over");
    assert.equal(t.dialer.connections.length, dialed, "no new dial");
    assert.equal(t.clock.pending, 0, "no timer left");
  });

  it("a cancelled attempt whose socket closes late does not let a second attempt start beside the current one", async () => {
    const t = setup({ max: 4 }, 2, true);
    await ready(t);
    t.open();
    t.open();
    t.open(); // queued: extra attempt A
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 2);
    t.subchannel.release(); // cancels A; its close comes later, as a real socket's
    t.subchannel.requestConnection(); // attempt B
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.subchannel.state, S.READY);
    t.open();
    t.open();
    t.open(); // queued: extra attempt C
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 4, "A, B and C dialed");
    t.dialer.finishCloses(); // A's (and the released lead's) close arrives while C is in flight
    await flushMicrotasks();
    t.open(); // another queued call asks for a connection
    await flushMicrotasks();
    assert.equal(
      t.dialer.connections.length,
      4,
      "one attempt at a time (gRFC A105): no D while C is in flight",
    );
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.equal(t.subchannel.openConnections, 2);
  });

  it("arms one backoff timer at a time", async () => {
    const { t } = await queuedBehindExtraAttempt({ max: 3 });
    await refuseLast(t);
    assert.equal(t.clock.pending, 1, "the backoff");
    t.clock.advance(1000);
    await refuseLast(t);
    assert.equal(t.clock.pending, 1, "still one: the new backoff replaced the old");
  });

  it("GOAWAY on the last connection during an extra attempt's backoff reconnects at once (IDLE -> CONNECTING), keeping the queued calls", async () => {
    const { t, queued: c } = await queuedBehindExtraAttempt();
    await refuseLast(t);
    t.dialer.connections[0]?.goaway(0);
    await flushMicrotasks();
    assert.ok(!t.transitions.includes("READY->TRANSIENT_FAILURE"), t.transitions.join(" "));
    assert.equal(
      t.subchannel.state,
      S.CONNECTING,
      "the server asked to reconnect: at once, not after the backoff",
    );
    assert.equal(t.dialer.connections.length, 3);
    assert.ok(!c.settled, "the queued call waits for the new connection");
    t.dialer.last.settings();
    await flushMicrotasks();
    assert.ok(c.settled && c.error === undefined, "sent on the new connection");
    assert.equal(t.subchannel.state, S.READY);
  });

  it("a connection lost without an error during the backoff names what happened, not 'undefined'", async () => {
    const { t, queued: c } = await queuedBehindExtraAttempt();
    await refuseLast(t);
    t.dialer.connections[0]?.drop();
    await flushMicrotasks();
    assert.ok(c.settled && neverProcessed(c.error));
    assert.doesNotMatch(String((c.error as Error).message), /undefined/);
    assert.match(String((c.error as Error).message), /were lost: connection closed/);
  });

  it("a queued call whose signal aborts leaves the queue, rejected with the abort reason, and asks for no more connections", async () => {
    const ac = new AbortController();
    const { t, queued: c } = await queuedBehindExtraAttempt({ max: 2 }, ac.signal);
    assert.equal(t.dialer.connections.length, 2, "the queued call started an extra attempt");
    const reason = new Error("deadline exceeded");
    ac.abort(reason);
    await flushMicrotasks();
    assert.ok(c.settled && c.error === reason, "rejected with the abort reason");
    await refuseLast(t);
    t.clock.advance(60_000);
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 2, "nothing queued: no retry of the extra attempt");
    const late = t.open(AbortSignal.abort(reason));
    await flushMicrotasks();
    assert.ok(late.settled && late.error === reason, "an aborted signal is not queued");
  });

  it("a fast unary call that times out while queued leaves the queue: the extra attempt is not retried for it", async () => {
    const t = setup({ max: 2 }, 1);
    await ready(t);
    t.open(); // the lead connection is full
    await flushMicrotasks();
    const outcome = unaryExchange(t.subchannel, { ...CALL }, undefined, undefined, 20, {
      resetCode: () => 8,
      read: () => {},
      closed: () => {},
    }).then(
      () => "answered",
      (e: unknown) => (e instanceof ConnectError ? Code[e.code] : String(e)),
    );
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 2, "queued: an extra attempt");
    assert.equal(await outcome, "DeadlineExceeded");
    await refuseLast(t);
    t.clock.advance(60_000);
    await flushMicrotasks();
    assert.equal(t.dialer.connections.length, 2, "nothing waits: no new attempt after the backoff");
  });
});

describe("connection scaling options", () => {
  const base = { target: "dns:///svc:8081" };
  it("defaults to one connection; min alone raises max", () => {
    assert.deepEqual(resolvePoolOptions(base).connectionScaling, { max: 1, min: 1, idleMs: 30_000 });
    assert.deepEqual(resolvePoolOptions({ ...base, minConnectionsPerEndpoint: 4 }).connectionScaling, {
      max: 4,
      min: 4,
      idleMs: 30_000,
    });
  });
  it("rejects bad values with InvalidArgument naming the option", () => {
    const bad = (o: object, re: RegExp) =>
      assert.throws(
        () => resolvePoolOptions({ ...base, ...o }),
        (e: unknown) => e instanceof ConnectError && e.code === Code.InvalidArgument && re.test(e.rawMessage),
      );
    bad(
      { maxConnectionsPerEndpoint: 0 },
      /maxConnectionsPerEndpoint must be a whole number from 1 to 100, got 0/,
    );
    bad({ maxConnectionsPerEndpoint: 2.5 }, /maxConnectionsPerEndpoint/);
    bad({ minConnectionsPerEndpoint: 101 }, /minConnectionsPerEndpoint must be a whole number from 1 to 100/);
    bad(
      { minConnectionsPerEndpoint: 3, maxConnectionsPerEndpoint: 2 },
      /minConnectionsPerEndpoint \(3\) must not exceed options.maxConnectionsPerEndpoint \(2\)/,
    );
    bad({ extraConnectionIdleMs: 0 }, /extraConnectionIdleMs must be a number >= 1/);
    bad({ maxConnectionsPerEndpoint: "2" }, /maxConnectionsPerEndpoint must be/);
  });
});
