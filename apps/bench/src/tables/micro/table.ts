/**
 * The microbenchmarks: ns per pick of the pool's pickers, and memory per
 * idle READY endpoint (health checks on and off), each in a child of its own.
 */

import { childPath, runChild } from "../../harness/child.js";
import type { BenchConfig } from "../../harness/config.js";
import { fmt } from "../../harness/format.js";
import { progress } from "../../harness/progress.js";
import { startFarm } from "../../harness/servers.js";
import type { Table } from "../../harness/table.js";
import type { MemoryConfig, MemoryResult } from "./memory.child.js";
import type { PickConfig, PickResult } from "./pick.js";

const PICK_CHILD = childPath(import.meta.url, "pick.child.js");
const MEMORY_CHILD = childPath(import.meta.url, "memory.child.js");

/** The microbenchmarks' figures, as latest.json has them. */
export interface MicroResult {
  readonly pick: PickResult;
  readonly memory: readonly MemoryResult[];
}

/** The pick and memory-per-idle-endpoint microbenchmarks, each in its own child, against one h2c server farm. */
async function runMicro(config: BenchConfig): Promise<MicroResult> {
  const farmSize = Math.max(config.memoryEndpoints, 1000);
  progress(`micro: starting a tiny h2c server on ${farmSize} ports`);
  const farm = await startFarm(farmSize);
  try {
    const addresses = farm.first.addresses;
    progress("micro: pick");
    const pickConfig: PickConfig = {
      sizes: [3, 100, 1000],
      picks: config.quick ? 200_000 : 2_000_000,
      rounds: config.quick ? 3 : 7,
    };
    const { value: pick } = await runChild<PickResult>(PICK_CHILD, pickConfig, { timeoutMs: 180_000 });
    const memory: MemoryResult[] = [];
    for (const healthCheck of [true, false]) {
      progress(`micro: memory per idle endpoint, health checks ${healthCheck ? "on" : "off"}`);
      const memoryConfig: MemoryConfig = {
        addresses: addresses.slice(0, config.memoryEndpoints),
        healthCheck,
      };
      const { value } = await runChild<MemoryResult>(MEMORY_CHILD, memoryConfig, {
        nodeArgs: ["--expose-gc"],
        timeoutMs: 120_000,
      });
      memory.push(value);
    }
    return { pick, memory };
  } finally {
    await farm.stop();
  }
}

/** The pick and memory tables (skipped with `--no-micro`). */
export const microTable: Table<MicroResult> = {
  id: "micro",
  title: "ns per pick of the pool's pickers, and memory per idle endpoint",
  inDefaultRun: true,
  run: ({ config }) => runMicro(config),
  render(result) {
    const lines: string[] = [];
    const p = result.pick;
    lines.push(`## Pick (${p.unit})`, "");
    const sizes = [...new Set(p.rows.map((r) => r.endpoints))];
    lines.push(`| policy | ${sizes.map((n) => `${n} endpoints`).join(" | ")} |`);
    lines.push(`|---|${sizes.map(() => "---:").join("|")}|`);
    for (const policy of ["round_robin", "least_request"] as const) {
      const cells = sizes.map((n) => {
        const row = p.rows.find((r) => r.policy === policy && r.endpoints === n);
        return row ? fmt(row.value, 1) : "–";
      });
      lines.push(`| ${policy} | ${cells.join(" | ")} |`);
    }
    lines.push("", p.note, "");
    if (result.memory.length > 0) {
      lines.push("## Memory per idle endpoint", "");
      lines.push(
        "| endpoints | health checks | heap B/endpoint | external B/endpoint | RSS B/endpoint | all READY in ms |",
      );
      lines.push("|---:|---|---:|---:|---:|---:|");
      for (const r of result.memory) {
        lines.push(
          `| ${r.endpoints} | ${r.healthCheck ? "on (Watch stream open)" : "off"} | ${fmt(r.heapBytesPerEndpoint)} | ${fmt(r.externalBytesPerEndpoint)} | ${fmt(r.rssBytesPerEndpoint)} | ${fmt(r.readyMs)} |`,
        );
      }
      lines.push(
        "",
        "A pool (connect eager) over that many READY endpoints, each one HTTP/2 connection to one tiny h2c server (one process, one listener per 127.0.0.1 port); growth of the client process after GC, divided by the endpoint count.",
        "",
      );
    }
    return { markdown: lines.join("\n"), json: { ...result }, errors: 0 };
  },
};
