/**
 * Every table of `pnpm bench`, in the order they run and appear in their
 * report. A new table is a folder here and one line in this list (see the
 * README's "Adding a table").
 */
import type { ReportHeader } from "../harness/report.js";
import type { Table } from "../harness/table.js";
import { type ClientsJson, clientsTable } from "./clients/table.js";
import { type MicroResult, microTable } from "./micro/table.js";
import type { ServerTable } from "./servers/summary.js";
import { serversTable } from "./servers/table.js";
import type { TelemetryCost } from "./telemetry/cost.js";
import { telemetryTable } from "./telemetry/table.js";

/** The tables, in the order they run. */
export const TABLES: readonly Table[] = [clientsTable, serversTable, microTable, telemetryTable];

/** latest.json: the header, each table's fields when it ran, and the failed calls. */
export type BenchReport = ReportHeader &
  Partial<ClientsJson & { servers: ServerTable } & MicroResult & { telemetry: TelemetryCost }> & {
    readonly errors: number;
  };
