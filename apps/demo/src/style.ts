/** Colours for the terminal, or plain text when colours are off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  /** The colour of pod number `n` (1-based), cycling through a palette. */
  pod(n: number, text: string): string;
}

// cyan, magenta, yellow, green, blue, bright red, bright cyan, bright magenta, bright yellow, bright blue
const PALETTE = [36, 35, 33, 32, 34, 91, 96, 95, 93, 94];

/**
 * ANSI colours only for a terminal, and never with NO_COLOR set
 * (https://no-color.org/).
 */
export function wantColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? "") === "";
}

/** A {@link Style} with ANSI colours if `enabled`. */
export function createStyle(enabled: boolean): Style {
  const sgr = (code: number | string, text: string) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
  return {
    enabled,
    bold: (t) => sgr(1, t),
    dim: (t) => sgr(2, t),
    red: (t) => sgr(31, t),
    green: (t) => sgr(32, t),
    pod: (n, t) => sgr(PALETTE[(n - 1) % PALETTE.length]!, t),
  };
}
