import { parseArgs } from "node:util";
import { formatDuration, parseDuration } from "./duration.js";
import { describeParseError, FlagError } from "./errors.js";

/** What every kind of flag has. */
interface FlagBase {
  /** One line (or several, joined with "\n") for --help. */
  readonly help: string;
  /** Environment variable read when the flag is not given; flags win. Default: none. */
  readonly env?: string;
  /** A one-letter alias, e.g. "v" for -v. */
  readonly short?: string;
  /** The value's name in --help, e.g. "n" in `--port <n>`. Default from the kind. */
  readonly placeholder?: string;
}

/** A free-form string. */
export interface StringFlag extends FlagBase {
  readonly type: "string";
  readonly default?: string;
  /** Checks the value: returns a message that says what is wrong, or undefined to accept it. */
  readonly validate?: (value: string) => string | undefined;
}

/** A whole number within [min, max]. */
export interface IntFlag extends FlagBase {
  readonly type: "int";
  readonly default?: number;
  /** Smallest value accepted. Default 0. */
  readonly min?: number;
  /** Largest value accepted. Default Number.MAX_SAFE_INTEGER. */
  readonly max?: number;
}

/** A number (fractions allowed) within [min, max]. */
export interface NumberFlag extends FlagBase {
  readonly type: "number";
  readonly default?: number;
  /** Smallest value accepted. Default 0. */
  readonly min?: number;
  /** Largest value accepted. Default Infinity. */
  readonly max?: number;
}

/** A Go-style duration (500ms, 1s, 1m30s), read as milliseconds. */
export interface DurationFlag extends FlagBase {
  readonly type: "duration";
  /** Default, in milliseconds. */
  readonly default?: number;
  /** Refuse 0. Default false. */
  readonly positive?: boolean;
}

/** A switch: present means true. */
export interface BooleanFlag extends FlagBase {
  readonly type: "boolean";
}

/** One of a fixed list of words. */
export interface EnumFlag<T extends string = string> extends FlagBase {
  readonly type: "enum";
  readonly values: readonly T[];
  readonly default?: T;
}

/** Any flag. */
export type FlagSpec = StringFlag | IntFlag | NumberFlag | DurationFlag | BooleanFlag | EnumFlag;

/** The value a flag spec parses to: defined when the spec has a default (or is a switch). */
export type FlagValue<F extends FlagSpec> = F extends BooleanFlag
  ? boolean
  : F extends EnumFlag<infer T>
    ? F extends { default: string }
      ? T
      : T | undefined
    : F extends StringFlag
      ? F extends { default: string }
        ? string
        : string | undefined
      : F extends { default: number }
        ? number
        : number | undefined;

/** The parsed values of a set of flags, by flag name. */
export type FlagValues<S extends Record<string, FlagSpec>> = { -readonly [K in keyof S]: FlagValue<S[K]> };

/** How a command reads its command line. */
export interface CommandOptions {
  /** Accept Go's single-dash long flags (-target x), as grpc-go's demo client takes them. Default false. */
  readonly goStyle?: boolean;
}

/** What parsing found: `--help`, or every flag's value. */
export type ParseResult<S extends Record<string, FlagSpec>> =
  | { readonly help: true }
  | { readonly help: false; readonly values: FlagValues<S>; readonly given: ReadonlySet<keyof S> };

/**
 * Parses `argv` (and `env` for flags that name a variable) against `flags`.
 * Precedence: flag, then environment variable, then default. A leading
 * "--" (as `pnpm start -- --count 3` passes on) is skipped.
 * @throws FlagError naming the flag and what is wrong.
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  flags: S,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
  options: CommandOptions = {},
): ParseResult<S> {
  let args = argv[0] === "--" ? argv.slice(1) : [...argv];
  if (options.goStyle) args = args.map((a) => (/^-[a-z][a-z0-9-]+(=.*)?$/.test(a) ? `-${a}` : a));
  const parseOptions: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, spec] of Object.entries(flags)) {
    parseOptions[name] = {
      type: spec.type === "boolean" ? "boolean" : "string",
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  let raw: Record<string, string | boolean | undefined>;
  try {
    raw = parseArgs({ args, strict: true, allowPositionals: false, options: parseOptions }).values;
  } catch (err) {
    throw new FlagError(describeParseError(err as Error & { code?: string }));
  }
  if (raw.help) return { help: true };
  const values: Record<string, unknown> = {};
  const given = new Set<keyof S>();
  for (const [name, spec] of Object.entries(flags)) {
    const fromFlag = raw[name];
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromFlag !== undefined) given.add(name);
    if (spec.type === "boolean") {
      values[name] = fromFlag === true || (fromFlag === undefined && isTrue(spec.env, fromEnv));
      continue;
    }
    // An empty variable counts as unset, as in most Unix tools.
    const text = typeof fromFlag === "string" ? fromFlag : fromEnv === "" ? undefined : fromEnv;
    const source = typeof fromFlag === "string" ? `--${name}` : (spec.env ?? `--${name}`);
    values[name] = text === undefined ? spec.default : convert(spec, source, text);
  }
  return { help: false, values: values as FlagValues<S>, given };
}

function isTrue(variable: string | undefined, text: string | undefined): boolean {
  if (text === undefined || text === "") return false;
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off)$/i.test(text)) return false;
  throw new FlagError(`${variable} must be true or false; got "${text}"`);
}

function convert(spec: Exclude<FlagSpec, BooleanFlag>, source: string, text: string): unknown {
  switch (spec.type) {
    case "string": {
      const problem = spec.validate?.(text);
      if (problem) throw new FlagError(`${source}: ${problem}`);
      return text;
    }
    case "int": {
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      const n = Number(text);
      if (text.trim() === "" || !Number.isInteger(n) || n < min || n > max) {
        throw new FlagError(`${source} must be a whole number from ${min} to ${max}; got "${text}"`);
      }
      return n;
    }
    case "number": {
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.POSITIVE_INFINITY;
      const n = Number(text);
      if (text.trim() === "" || Number.isNaN(n) || n < min || n > max) {
        throw new FlagError(`${source} must be a number from ${min} to ${max}; got "${text}"`);
      }
      return n;
    }
    case "duration": {
      const ms = parseDuration(text);
      if (ms === undefined) {
        throw new FlagError(`${source} must be a duration such as 500ms, 1s or 2m; got "${text}"`);
      }
      if (spec.positive && ms <= 0) throw new FlagError(`${source} must be more than 0; got "${text}"`);
      return ms;
    }
    case "enum":
      if (!spec.values.includes(text)) {
        throw new FlagError(`${source} must be ${spec.values.join(", ")}; got "${text}"`);
      }
      return text;
  }
}

/** A flag's default as --help shows it, or undefined when it has none. */
export function describeDefault(spec: FlagSpec): string | undefined {
  if (spec.type === "boolean") return "off";
  if (spec.default === undefined) return undefined;
  if (spec.type === "duration") return formatDuration(spec.default);
  return String(spec.default);
}
