/**
 * `rng-client` as a library: its flag parsing, call loop and summary, for
 * tools that want the same behaviour in-process.
 *
 * @packageDocumentation
 */
export { type ClientConfig, DEFAULTS, FlagError, parseDuration, parseFlags, USAGE } from "./flags.js";
export {
  createRngCaller,
  formatCallJson,
  formatCallLine,
  formatLogTime,
  type LoopOptions,
  type RngCaller,
  runLoop,
  waitUntilSettled,
} from "./run.js";
export {
  type CallOutcome,
  codeName,
  formatMs,
  formatSummary,
  formatSummaryJson,
  NO_ADDRESS,
  percentile,
  type Summary,
  SummaryCollector,
  type SummaryRow,
} from "./summary.js";
