import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { EMPTY_PICKER, FixedPicker, type Picker } from "../../src/balancer/picker.js";
import { PickQueue, type PickSource } from "../../src/call/pick-queue.js";
import { ConnectivityState as S } from "../../src/core/connectivity.js";
import { FakeClock, type FakeEndpoint, fakeEndpoints, flushMicrotasks } from "../../src/testing/index.js";

/** The endpoint set, reduced to what the queue reads. */
class FakeSource implements PickSource<FakeEndpoint> {
  state = S.CONNECTING;
  picker: Picker<FakeEndpoint> = EMPTY_PICKER;
  closed = false;
  activations = 0;
  activate(): boolean {
    return this.activations++ === 0;
  }
  unavailableError(): ConnectError {
    return new ConnectError("no ready endpoint: 1 endpoint (1 TRANSIENT_FAILURE)", Code.Unavailable);
  }
  becomeReady(endpoint: FakeEndpoint): void {
    this.state = S.READY;
    this.picker = new FixedPicker(endpoint);
  }
}

function setup(waitForReady = false) {
  const source = new FakeSource();
  const clock = new FakeClock();
  const queue = new PickQueue(source, clock, waitForReady, "dns:///svc:80");
  const [endpoint] = fakeEndpoints(1);
  return { source, clock, queue, endpoint: endpoint! };
}

/** The settled value of a promise after pending reactions ran, or "pending". */
async function peek<T>(p: Promise<T>): Promise<T | ConnectError | "pending"> {
  let out: T | ConnectError | "pending" = "pending";
  p.then(
    (v) => {
      out = v;
    },
    (e: ConnectError) => {
      out = e;
    },
  );
  await flushMicrotasks();
  return out;
}

describe("PickQueue", () => {
  it("activates a lazy pool and returns at once when that makes an endpoint READY", async () => {
    const { source, queue, endpoint } = setup();
    source.activate = () => {
      source.becomeReady(endpoint);
      return true;
    };
    assert.equal(await queue.wait(undefined, undefined), endpoint);
  });

  it("waits while connecting and is served when an endpoint becomes READY", async () => {
    const { source, clock, queue, endpoint } = setup();
    const call = queue.wait(undefined, 1000);
    assert.equal(await peek(call), "pending");
    assert.equal(queue.size, 1);
    assert.equal(clock.pendingRefd, 2, "the deadline and the hold-open timer");
    source.becomeReady(endpoint);
    queue.serve();
    assert.equal(await call, endpoint);
    assert.equal(queue.size, 0);
    assert.equal(clock.pending, 0, "timers cleared");
  });

  it("fails fast with UNAVAILABLE when every endpoint fails (no wait-for-ready)", async () => {
    const { source, queue } = setup();
    source.state = S.TRANSIENT_FAILURE;
    await assert.rejects(queue.wait(undefined, 1000), { code: Code.Unavailable });
    source.state = S.CONNECTING;
    const waiting = queue.wait(undefined, 1000);
    source.state = S.TRANSIENT_FAILURE;
    queue.serve();
    await assert.rejects(
      waiting,
      (e: ConnectError) => e.code === Code.Unavailable && /no ready endpoint/.test(e.rawMessage),
    );
  });

  it("with wait-for-ready, waits through failures until the deadline", async () => {
    const { source, clock, queue } = setup(true);
    source.state = S.TRANSIENT_FAILURE;
    const call = queue.wait(undefined, 500);
    queue.serve();
    clock.advance(499);
    assert.equal(await peek(call), "pending");
    clock.advance(1);
    const err = await peek(call);
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.DeadlineExceeded);
    assert.match(
      err.rawMessage,
      /deadline of 500 ms exceeded while waiting for a ready endpoint: no ready endpoint/,
    );
  });

  it("ends with CANCELED when the signal aborts, and at once if already aborted", async () => {
    const { queue, clock } = setup();
    const ac = new AbortController();
    const call = queue.wait(ac.signal, undefined);
    ac.abort();
    await assert.rejects(call, { code: Code.Canceled });
    assert.equal(clock.pending, 0);
    await assert.rejects(queue.wait(AbortSignal.abort(), undefined), { code: Code.Canceled });
  });

  it("rejects on a closed pool, and rejectAll() fails every waiter", async () => {
    const { source, queue } = setup();
    const a = queue.wait(undefined, undefined);
    const b = queue.wait(undefined, undefined);
    queue.rejectAll(queue.closedError());
    await assert.rejects(a, /the pool for "dns:\/\/\/svc:80" is closed/);
    await assert.rejects(b, { code: Code.Unavailable });
    source.closed = true;
    await assert.rejects(queue.wait(undefined, undefined), /is closed/);
  });
});
