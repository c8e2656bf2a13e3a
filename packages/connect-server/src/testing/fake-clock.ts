import { type FakeClockOptions, FakeClock as SharedFakeClock } from "@rngbalance/clock/testing";

/**
 * `@rngbalance/clock`'s fake clock, letting the event loop turn three times
 * around each timer in `advanceAsync` (one turn is enough for promises; the
 * server's tests also need a real peer's frames on loopback to be read).
 */
export class FakeClock extends SharedFakeClock {
  /** @param options - the start time (default 1_000_000) or the options; `turnsPerStep` defaults to 3. */
  constructor(options: number | FakeClockOptions = {}) {
    super({ turnsPerStep: 3, ...(typeof options === "number" ? { startMs: options } : options) });
  }
}

export { type FakeClockOptions, flushIo } from "@rngbalance/clock/testing";
