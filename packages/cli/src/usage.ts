import { describeDefault, type FlagSpec } from "./flags.js";

/** Options of {@link renderFlagTable}. */
export interface FlagTableOptions {
  /** Show each flag's environment variable in a column. Default: when any flag has one. */
  readonly showEnv?: boolean;
  /** Text shown as the default of flags that have none. Default "none". */
  readonly noDefault?: string;
  /** Left margin. Default 2 spaces. */
  readonly indent?: number;
}

const PLACEHOLDERS: Record<FlagSpec["type"], string> = {
  string: "value",
  int: "n",
  number: "x",
  duration: "duration",
  boolean: "",
  enum: "name",
};

/**
 * The flags part of `--help`, rendered from the same specs the parser uses:
 * one line per flag (more for multi-line help) with its value, help, the
 * environment variable and the default, so that help and behaviour agree.
 * `-h, --help` is added last.
 */
export function renderFlagTable(flags: Record<string, FlagSpec>, options: FlagTableOptions = {}): string {
  const entries = Object.entries(flags);
  const showEnv = options.showEnv ?? entries.some(([, s]) => s.env);
  const pad = " ".repeat(options.indent ?? 2);
  const left = (name: string, spec: FlagSpec) => {
    const short = spec.short ? `-${spec.short}, ` : "";
    const value = spec.type === "boolean" ? "" : ` <${spec.placeholder ?? PLACEHOLDERS[spec.type]}>`;
    return `${short}--${name}${value}`;
  };
  const rows = entries.map(([name, spec]) => ({
    left: left(name, spec),
    help: spec.help.split("\n"),
    env: spec.env ?? "",
    dflt: `default ${describeDefault(spec) ?? options.noDefault ?? "none"}`,
  }));
  const leftWidth = Math.max(...rows.map((r) => r.left.length), "-h, --help".length) + 2;
  const helpWidth = Math.max(...rows.map((r) => (r.help[0] ?? "").length)) + 2;
  const envWidth = showEnv ? Math.max(...rows.map((r) => r.env.length)) + 2 : 0;
  const lines: string[] = [];
  for (const r of rows) {
    const [first = "", ...rest] = r.help;
    const env = showEnv ? r.env.padEnd(envWidth) : "";
    lines.push(`${pad}${r.left.padEnd(leftWidth)}${first.padEnd(helpWidth)}${env}${r.dflt}`.trimEnd());
    for (const more of rest) lines.push(`${pad}${" ".repeat(leftWidth)}${more}`);
  }
  lines.push(`${pad}${"-h, --help".padEnd(leftWidth)}print this help`);
  return lines.join("\n");
}

/** Options of {@link renderFlagMarkdown}. */
export interface FlagMarkdownOptions {
  /** Add a column with each flag's environment variable. Default: when any flag has one. */
  readonly showEnv?: boolean;
  /** Text shown as the default of flags that have none. Default "none". */
  readonly noDefault?: string;
}

/**
 * The flags as a Markdown table (flag, environment variable, default,
 * help), rendered from the same specs as `--help`, so that a README that
 * embeds it cannot drift from the program (`scripts/docs-flags.mjs`
 * rewrites and checks the READMEs' generated blocks). Multi-line help is
 * joined into one cell; `|` is escaped.
 */
export function renderFlagMarkdown(
  flags: Record<string, FlagSpec>,
  options: FlagMarkdownOptions = {},
): string {
  const entries = Object.entries(flags);
  const showEnv = options.showEnv ?? entries.some(([, s]) => s.env);
  const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
  const code = (text: string) => `\`${text}\``;
  const header = showEnv
    ? ["Flag", "Environment", "Default", "What it does"]
    : ["Flag", "Default", "What it does"];
  const rows = entries.map(([name, spec]) => {
    const value = spec.type === "boolean" ? "" : ` <${spec.placeholder ?? PLACEHOLDERS[spec.type]}>`;
    const flag = code(`${spec.short ? `-${spec.short}, ` : ""}--${name}${value}`);
    const dflt = describeDefault(spec);
    const row = [cell(flag)];
    if (showEnv) row.push(spec.env ? code(spec.env) : "");
    row.push(dflt === undefined ? (options.noDefault ?? "none") : cell(code(dflt)));
    // Help is prose: an <angle> placeholder in it would be taken for an HTML tag.
    row.push(cell(spec.help).replace(/</g, "&lt;").replace(/>/g, "&gt;"));
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
