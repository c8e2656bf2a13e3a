import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "@rngbalance/testkit";
import { CLIENTS_PER_SET, type RepeatCell, SERVER_ROWS, SERVER_SETS } from "../src/harness/cell.js";
import type { BenchReport } from "../src/tables/index.js";

const BENCH_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const CONCURRENCIES = [1, 16];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built bench as a real process. */
async function runBench(args: string[], timeoutMs = 240_000): Promise<Run> {
  const child = spawn(process.execPath, [BENCH_MAIN, ...args], {
    env: childProcessEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr };
}

/** Every Markdown table: its rows have as many cells as its header. */
function checkTables(markdown: string): number {
  let tables = 0;
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]?.startsWith("|") || lines[i - 1]?.startsWith("|")) continue;
    tables++;
    const width = (lines[i] as string).split("|").length;
    assert.match(lines[i + 1] ?? "", /^\|(-+:?\|)+$|^\|(---:?\|)+$/, `no separator under: ${lines[i]}`);
    for (let j = i; j < lines.length && lines[j]?.startsWith("|"); j++) {
      assert.equal((lines[j] as string).split("|").length, width, `ragged table row: ${lines[j]}`);
    }
  }
  return tables;
}

/** A minimal XML well-formedness check: one root, every tag closed in order, attributes quoted. */
function checkXml(xml: string): string[] {
  const stack: string[] = [];
  const names: string[] = [];
  const body = xml.replace(/^<\?xml[^>]*\?>\s*/, "").trim();
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->|([^<]+)/y;
  let roots = 0;
  while (tag.lastIndex < body.length) {
    const at = tag.lastIndex;
    const m = tag.exec(body);
    assert.ok(m, `malformed markup at ${at}: ${body.slice(at, at + 80)}`);
    if (m[5] !== undefined) {
      assert.ok(stack.length > 0 || m[5].trim() === "", "text outside the root element");
      assert.doesNotMatch(m[5], /&(?!amp;|lt;|gt;|quot;|apos;|#\d+;)/, "unescaped & in text");
      continue;
    }
    if (m[2] === undefined) continue; // comment
    if (m[1] === "/") {
      assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element`);
    } else {
      if (stack.length === 0) roots++;
      names.push(m[2]);
      if (m[4] !== "/") stack.push(m[2]);
    }
  }
  assert.deepEqual(stack, [], "unclosed elements");
  assert.equal(roots, 1, "exactly one root element");
  return names;
}

describe("pnpm bench --quick (the built bench as a real process)", () => {
  let out: string;
  let run: Run;

  before(async () => {
    out = mkdtempSync(path.join(tmpdir(), "rngbalance-bench-test-"));
    run = await runBench(["--quick", "--out", out]);
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  it("exits 0", () => {
    assert.equal(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stderr}`);
  });

  it("runs every client at every concurrency without one failed call", () => {
    const report = JSON.parse(readFileSync(path.join(out, "latest.json"), "utf8")) as BenchReport;
    assert.equal(report.settings.quick, true);
    assert.deepEqual(report.settings.concurrencies, CONCURRENCIES);
    assert.equal(report.errors, 0);
    assert.ok(
      report.cells && report.summary && report.ratios && report.memory,
      "the client and micro tables",
    );
    const allCells: readonly RepeatCell[] = report.cells;
    const summary: NonNullable<BenchReport["summary"]> = report.summary;
    const ratios: NonNullable<BenchReport["ratios"]> = report.ratios;
    const memory: NonNullable<BenchReport["memory"]> = report.memory;
    for (const serverSet of SERVER_SETS) {
      for (const client of CLIENTS_PER_SET[serverSet]) {
        for (const concurrency of CONCURRENCIES) {
          const cells = allCells.filter(
            (c) => c.serverSet === serverSet && c.client === client && c.concurrency === concurrency,
          );
          assert.equal(cells.length, report.settings.repeats, `${serverSet} ${client} ${concurrency}`);
          for (const cell of cells) {
            assert.equal(cell.failure, undefined, `${serverSet} ${client} ${concurrency}: ${cell.failure}`);
            assert.equal(cell.errors, 0, `${serverSet} ${client} ${concurrency}: ${cell.firstError}`);
            assert.ok(cell.calls > 0, `${serverSet} ${client} ${concurrency}: no call completed`);
            assert.ok(cell.p50Us > 0 && cell.p99Us >= cell.p50Us, "p50 and p99 in order");
            assert.ok(cell.cpuUsPerCall > 0 && cell.rssMb > 0, "CPU and RSS measured");
          }
          const row = summary.find(
            (r) => r.serverSet === serverSet && r.client === client && r.concurrency === concurrency,
          );
          assert.ok(row, `no summary row for ${serverSet} ${client} ${concurrency}`);
          assert.equal(row.errors, 0);
        }
      }
      for (const concurrency of CONCURRENCIES) {
        const ratio = ratios.find((r) => r.serverSet === serverSet && r.concurrency === concurrency);
        assert.ok(ratio && Number.isFinite(ratio.poolOverStockConnect.median));
        assert.ok(Number.isFinite(ratio.poolOverGrpcJs.median));
      }
    }
    // Pool clients use all three endpoints.
    for (const cell of allCells.filter((c) => c.client.startsWith("pool-"))) {
      assert.equal(cell.spread?.length, 3, `${cell.client}: ${JSON.stringify(cell.spread)}`);
      assert.ok(
        cell.spread.every((n) => n > 0),
        `${cell.client} left an endpoint out: ${cell.spread}`,
      );
    }
    // The server table: every row (each server, and rng-server under the Connect loads) at every concurrency, its CPU and RSS measured.
    const table = report.servers;
    assert.ok(table, "server table");
    for (const { row: server } of SERVER_ROWS) {
      for (const concurrency of CONCURRENCIES) {
        const serverCells: readonly RepeatCell[] = table.cells.filter(
          (c) => c.serverSet === server && c.concurrency === concurrency,
        );
        assert.equal(serverCells.length, report.settings.repeats, `server ${server} ${concurrency}`);
        for (const cell of serverCells) {
          assert.equal(cell.failure, undefined, `server ${server} ${concurrency}: ${cell.failure}`);
          assert.equal(cell.errors, 0, `server ${server} ${concurrency}: ${cell.firstError}`);
          assert.ok(cell.calls > 0, `server ${server} ${concurrency}: no call completed`);
          assert.ok(
            (cell.serverCpuUsPerCall ?? 0) > 0,
            `server ${server} ${concurrency}: server CPU measured`,
          );
          assert.ok((cell.serverRssMb ?? 0) > 0, `server ${server} ${concurrency}: server RSS measured`);
        }
      }
    }
    for (const concurrency of CONCURRENCIES) {
      const ratio = table.ratios.find((r) => r.concurrency === concurrency);
      assert.ok(ratio && Number.isFinite(ratio.cpu["grpc-js"]?.median), `CPU ratio at ${concurrency}`);
      assert.ok(Number.isFinite(ratio.cpu["bare-http2"]?.median));
    }
    // The telemetry table: off, API only and SDK metrics, paired per round, at every concurrency.
    assert.ok(report.telemetry, "telemetry cost");
    for (const concurrency of CONCURRENCIES) {
      const row = report.telemetry.rows.find((r) => r.concurrency === concurrency);
      assert.ok(row && row.rounds > 0, `telemetry A/B at ${concurrency}`);
      assert.ok(Number.isFinite(row.apiOverOff.median) && Number.isFinite(row.metricsOverApi.median));
      assert.ok(
        Number.isFinite(row.stockHashMetricsOverApi.median),
        "the run with the SDK's stock attribute hash",
      );
      assert.ok(row.cpuUsPerCall.metrics > 0 && row.cpuUsPerCall.off > 0, "CPU per call of each mode");
      assert.ok(Number.isFinite(row.tracingOverApi.median), "tracing from its cells");
    }
    assert.ok(report.pick, "pick microbenchmark");
    assert.deepEqual([...new Set(report.pick.rows.map((r) => r.endpoints))], [3, 100, 1000]);
    assert.ok(report.pick.rows.every((r) => r.value > 0));
    assert.equal(memory.length, 2);
    assert.ok(memory.every((m) => m.endpoints > 0 && Number.isFinite(m.heapBytesPerEndpoint)));
  });

  it("prints the Markdown report and writes the same to latest.md, with well-formed tables", () => {
    const markdown = readFileSync(path.join(out, "latest.md"), "utf8");
    assert.equal(run.stdout, markdown);
    assert.ok(
      checkTables(markdown) >= 7,
      "the calls/s, ratio, cell, server, server ratio, pick and memory tables",
    );
    for (const { row: server } of SERVER_ROWS) {
      assert.match(
        markdown,
        new RegExp(`^\\| ${server.replace("+", "\\+")} \\| ${CONCURRENCIES[0]} \\|`, "m"),
        `no row for ${server}`,
      );
    }
    assert.match(markdown, /CPU\/call ÷ grpc-js/);
    for (const client of new Set(SERVER_SETS.flatMap((s) => CLIENTS_PER_SET[s]))) {
      assert.match(markdown, new RegExp(`^\\| ${client} \\|`, "m"), `no row for ${client}`);
    }
    for (const c of CONCURRENCIES) assert.ok(markdown.includes(`| ${c} in flight`), `no column for ${c}`);
    assert.match(markdown, /pool ÷ stock-connect/);
    assert.match(markdown, /pool ÷ grpc-js/);
    assert.match(markdown, /Memory per idle endpoint/);
    assert.match(markdown, /What OpenTelemetry costs the pool/);
  });

  it("writes a well-formed SVG bar chart with every client and concurrency", () => {
    const svg = readFileSync(path.join(out, "latest.svg"), "utf8");
    const names = checkXml(svg);
    assert.equal(names[0], "svg");
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    for (const client of new Set(SERVER_SETS.flatMap((s) => CLIENTS_PER_SET[s]))) {
      assert.ok(svg.includes(`>${client}</text>`), `no legend entry for ${client}`);
    }
    for (const c of CONCURRENCIES) assert.ok(svg.includes(`>${c} in flight</text>`));
    const bars = (svg.match(/<title>/g) ?? []).length;
    const expected = SERVER_SETS.reduce((n, s) => n + CLIENTS_PER_SET[s].length, 0) * CONCURRENCIES.length;
    assert.equal(bars, expected, "one bar per client, server set and concurrency");
  });
});

describe("flags", () => {
  it("rejects a bad flag with exit status 2", async () => {
    const bad = await runBench(["--repeats", "zero"], 20_000);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--repeats must be a whole number/);
  });

  it("prints help", async () => {
    const help = await runBench(["--help"], 20_000);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: pnpm bench/);
  });
});
