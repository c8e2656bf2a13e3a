/** A bad flag or value; the message names the flag and says what is wrong. */
export class FlagError extends Error {
  override readonly name = "FlagError";
}

/** node's parseArgs messages, shortened to name the flag, by the error's code. */
export function describeParseError(err: Error & { code?: string }): string {
  const flag = /'(-[^' ]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag ?? err.message}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const arg = /'([^']*)'/.exec(err.message)?.[1];
      return `unexpected argument "${arg ?? "?"}": every value follows its flag, as in --count 10`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      // The one code covers three cases; node's text is the only thing that tells them apart.
      if (flag && /argument missing/.test(err.message)) return `${flag} needs a value`;
      if (flag && /does not take an argument/.test(err.message)) return `${flag} takes no value`;
      if (flag && /ambiguous/.test(err.message)) {
        return `${flag} needs a value (for one that starts with "-", write ${flag}=<value>)`;
      }
      return err.message;
    default:
      return err.message;
  }
}
