/**
 * What a table of the bench is: a measurement with its own folder under
 * `src/tables/`, listed once in `src/tables/index.ts`. The runner
 * (`run-tables.ts`) runs the chosen tables in that list's order, then
 * renders each into its report's Markdown and JSON.
 */
import type { BenchConfig } from "./config.js";
import type { MachineFacts } from "./report.js";

/** What a table's `run` gets. */
export interface TableContext {
  /** The command line, resolved (`--quick`, `--repeats`, `--concurrency`, ...). */
  readonly config: BenchConfig;
  /**
   * The result of a table that ran before this one in the same run (tables
   * run in the registry's order), or undefined when it was not chosen.
   */
  resultOf<R>(table: Table<R>): R | undefined;
}

/** What a table's `render` gets. */
export interface RenderContext {
  readonly config: BenchConfig;
  /** The machine the figures come from. */
  readonly machine: MachineFacts;
}

/** A table's share of its report. */
export interface Rendered {
  /** Markdown sections ("## ..."), each ending with an empty line. */
  readonly markdown: string;
  /** Fields this table adds to the report's JSON (e.g. `{ servers: ... }`); names must not clash with another table's. */
  readonly json: Readonly<Record<string, unknown>>;
  /** Failed calls; the bench exits 1 when any table has one. */
  readonly errors: number;
  /** More files written next to the report, by file name (e.g. `latest.svg`). Default none. */
  readonly files?: Readonly<Record<string, string>>;
}

/** One table of the bench. */
export interface Table<R = unknown> {
  /** Its name in `--tables`, e.g. "servers". */
  readonly id: string;
  /** One line on what it measures, for `--help`. */
  readonly title: string;
  /** Run by `pnpm bench` when `--tables` is not given. */
  readonly inDefaultRun: boolean;
  /**
   * Base name of the report its figures go to, next to the others in `--out`:
   * `<report>.md` and `<report>.json`. Default "latest"; a table with its
   * own script (e.g. `pnpm bench:x` = `--tables x`) names its own, so it does
   * not overwrite latest.md.
   */
  readonly report?: string;
  /** Measures; throws when it cannot (a failed call is counted, not thrown, where the table can go on). */
  run(ctx: TableContext): Promise<R>;
  /** The result as Markdown, JSON fields and extra files. Pure: no measuring here. */
  render(result: R, ctx: RenderContext): Rendered;
}
