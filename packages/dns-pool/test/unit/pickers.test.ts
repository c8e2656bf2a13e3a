import assert from "node:assert/strict";
import { describe, it, mock } from "node:test";
import {
  EMPTY_PICKER,
  FixedPicker,
  LeastRequestPicker,
  RoundRobinPicker,
} from "../../src/balancer/picker.js";
import { fakeEndpoints, pickAddresses } from "../../src/testing/index.js";

describe("RoundRobinPicker", () => {
  it("rotates strictly and keeps its place across picker swaps (shared cursor)", () => {
    const [a, b, c] = fakeEndpoints(3);
    const cursor = { next: 0 };
    const first = new RoundRobinPicker([a!, b!, c!], cursor);
    assert.deepEqual(pickAddresses(first, 4), ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.1:80"]);
    // A new picker after a change continues where the old one stopped.
    const second = new RoundRobinPicker([a!, b!, c!], cursor);
    assert.equal(second.pick(), b);
  });

  it("wraps a cursor beyond the list (endpoints removed)", () => {
    const [a, b] = fakeEndpoints(2);
    const cursor = { next: 7 };
    const p = new RoundRobinPicker([a!, b!], cursor);
    assert.equal(p.pick(), b); // 7 % 2 = 1
    assert.equal(p.pick(), a);
  });
});

describe("LeastRequestPicker (power of two choices)", () => {
  it("takes the less busy of two distinct endpoints", () => {
    const [a, b, c] = fakeEndpoints(3);
    a!.inFlight = 5;
    b!.inFlight = 1;
    c!.inFlight = 9;
    const p = new LeastRequestPicker([a!, b!, c!]);
    // i = floor(0 * 3) = 0 (a); j = floor(0 * 2) = 0, skipped past i -> 1 (b).
    const rolls = [0.0, 0.0];
    mock.method(Math, "random", () => rolls.shift() ?? 0);
    try {
      assert.equal(p.pick(), b);
    } finally {
      mock.restoreAll();
    }
  });

  it("never compares an endpoint with itself, and keeps the first on a tie", () => {
    const [a, b] = fakeEndpoints(2);
    const p = new LeastRequestPicker([a!, b!]);
    // i = floor(0.6 * 2) = 1 (b), j = floor(0.99 * 1) = 0 (a): distinct; equal load keeps the first choice.
    const rolls = [0.6, 0.99];
    mock.method(Math, "random", () => rolls.shift() ?? 0);
    try {
      assert.equal(p.pick(), b);
    } finally {
      mock.restoreAll();
    }
  });

  it("with one endpoint returns it", () => {
    const [a] = fakeEndpoints(1);
    assert.equal(new LeastRequestPicker([a!]).pick(), a);
  });
});

describe("FixedPicker and EMPTY_PICKER", () => {
  it("always the same endpoint, or none", () => {
    const [a] = fakeEndpoints(1);
    assert.deepEqual(pickAddresses(new FixedPicker(a!), 3), ["10.0.0.1:80", "10.0.0.1:80", "10.0.0.1:80"]);
    assert.equal(EMPTY_PICKER.pick(), undefined);
    assert.equal(EMPTY_PICKER.onDone, undefined);
  });
});
