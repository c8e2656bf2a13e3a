/**
 * Test helpers for code built on `@rngbalance/connect-server`: a fake
 * {@link FakeClock} to pass as the server's `clock`, so its timeouts,
 * sweeps and drain run on time the test moves.
 *
 * @packageDocumentation
 */
export { FakeClock, flushIo } from "./fake-clock.js";
