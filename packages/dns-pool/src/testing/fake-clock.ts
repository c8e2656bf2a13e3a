// The pool's fake clock is the shared one: time moves only when a test says so.
export { FakeClock, type FakeClockOptions, flushMicrotasks } from "@rngbalance/clock/testing";
