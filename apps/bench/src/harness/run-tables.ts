/**
 * Runs the chosen tables in the registry's order, then writes each report
 * (`<report>.md`, `<report>.json` and the tables' extra files in `--out`)
 * and prints its Markdown.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { BenchConfig } from "./config.js";
import { progress } from "./progress.js";
import { machineFacts, type ReportHeader, renderHeader, reportSettings } from "./report.js";
import type { Rendered, Table, TableContext } from "./table.js";

/** Runs `tables` (in this order) and writes their reports. Exit status 0 when no call failed, else 1. */
export async function runTables(tables: readonly Table[], config: BenchConfig): Promise<number> {
  const startedAt = new Date();
  const machine = machineFacts();
  const results = new Map<Table, unknown>();
  const ctx: TableContext = {
    config,
    resultOf: <R>(table: Table<R>) => results.get(table as Table) as R | undefined,
  };
  for (const table of tables) results.set(table, await table.run(ctx));
  machine.loadAverage.end = os.loadavg()[0] ?? 0;

  const header: ReportHeader = {
    startedAt: startedAt.toISOString(),
    tookSeconds: (Date.now() - startedAt.getTime()) / 1000,
    machine,
    settings: reportSettings(config),
  };
  const reports = new Map<string, { table: Table; rendered: Rendered }[]>();
  for (const table of tables) {
    const rendered = table.render(results.get(table), { config, machine });
    const name = table.report ?? "latest";
    reports.set(name, [...(reports.get(name) ?? []), { table, rendered }]);
  }
  mkdirSync(config.outDir, { recursive: true });
  let errors = 0;
  for (const [name, parts] of reports) {
    const reportErrors = parts.reduce((sum, p) => sum + p.rendered.errors, 0);
    errors += reportErrors;
    const markdown = [
      ...renderHeader(header),
      ...parts.map((p) => p.rendered.markdown),
      `Failed calls in all: ${reportErrors}.`,
      "",
    ].join("\n");
    const json = Object.assign({}, header, ...parts.map((p) => p.rendered.json), { errors: reportErrors });
    const written = [`${name}.md`, `${name}.json`];
    writeFileSync(path.join(config.outDir, `${name}.md`), markdown);
    writeFileSync(path.join(config.outDir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
    for (const { rendered } of parts) {
      for (const [file, text] of Object.entries(rendered.files ?? {})) {
        writeFileSync(path.join(config.outDir, file), text);
        written.push(file);
      }
    }
    process.stdout.write(markdown);
    progress(`wrote ${written.join(", ")} in ${config.outDir}`);
  }
  return errors === 0 ? 0 : 1;
}
