/**
 * Command-line flags from data. A program declares its flags once (kind,
 * default, environment variable, help) and gets from that one declaration
 * the parser, the environment fallback and the `--help` table, so the help
 * can never state a default the program does not use.
 *
 * @packageDocumentation
 */
export { formatDuration, parseDuration } from "./duration.js";
export { describeParseError, FlagError } from "./errors.js";
export {
  type BooleanFlag,
  type CommandOptions,
  type DurationFlag,
  describeDefault,
  type EnumFlag,
  type FlagSpec,
  type FlagValue,
  type FlagValues,
  type IntFlag,
  type NumberFlag,
  type ParseResult,
  parseFlags,
  type StringFlag,
} from "./flags.js";
export {
  type FlagMarkdownOptions,
  type FlagTableOptions,
  renderFlagMarkdown,
  renderFlagTable,
} from "./usage.js";
