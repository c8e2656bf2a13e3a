import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCallLine } from "../src/client-run.js";
import { FlagError, parseDemoFlags } from "../src/flags.js";
import { createStyle, wantColor } from "../src/style.js";
import { formatTable, seconds } from "../src/table.js";

describe("parseCallLine", () => {
  it("reads rng-client's request and error lines", () => {
    assert.deepEqual(
      parseCallLine("2026/11/25 10:18:01 request 7754383576636566559 from 127.0.0.2:8081 (0.81 ms)", 5),
      {
        at: 5,
        code: "OK",
        rn: "7754383576636566559",
        address: "127.0.0.2:8081",
        line: "2026/11/25 10:18:01 request 7754383576636566559 from 127.0.0.2:8081 (0.81 ms)",
      },
    );
    const err = parseCallLine("2026/11/25 10:18:01 error UNAVAILABLE from 127.0.0.2:8081 (1.00 ms): boom", 1);
    assert.equal(err?.code, "UNAVAILABLE");
    assert.equal(err?.address, "127.0.0.2:8081");
    const noAddress = parseCallLine("2026/11/25 10:18:01 error DEADLINE_EXCEEDED (2000 ms): boom", 1);
    assert.equal(noAddress?.code, "DEADLINE_EXCEEDED");
    assert.equal(noAddress?.address, undefined);
    assert.equal(parseCallLine("summary: 3 calls", 1), undefined);
    assert.equal(parseCallLine("", 1), undefined);
  });
});

describe("parseDemoFlags", () => {
  it("reads --fast and --interactive, skipping pnpm's --", () => {
    assert.deepEqual(parseDemoFlags([]), { help: false, config: { fast: false, interactive: false } });
    assert.deepEqual(parseDemoFlags(["--", "--fast", "--interactive"]), {
      help: false,
      config: { fast: true, interactive: true },
    });
    assert.deepEqual(parseDemoFlags(["-h"]), { help: true });
    assert.throws(
      () => parseDemoFlags(["--slow"]),
      (e) => e instanceof FlagError && /--slow/.test(e.message),
    );
  });
});

describe("style", () => {
  it("colours only a terminal without NO_COLOR", () => {
    assert.equal(wantColor({ isTTY: true }, {}), true);
    assert.equal(wantColor({ isTTY: true }, { NO_COLOR: "1" }), false);
    assert.equal(wantColor({ isTTY: false }, {}), false);
    assert.equal(wantColor({}, {}), false);
    assert.equal(createStyle(false).pod(1, "pod-1"), "pod-1");
    assert.equal(createStyle(true).pod(1, "pod-1"), "\x1b[36mpod-1\x1b[0m");
  });
});

describe("formatTable", () => {
  it("aligns the rows and marks each", () => {
    const text = formatTable([
      { phase: "1. round_robin, 3 pods", calls: 12, instances: 3, errors: 0, note: "", ok: true },
      {
        phase: "2. scale 3 → 5",
        calls: 104,
        instances: 5,
        errors: 1,
        note: `after ${seconds(1020)}`,
        ok: false,
      },
    ]);
    assert.equal(
      text,
      [
        "phase                   calls  instances  errors     notes",
        "-".repeat(65),
        "1. round_robin, 3 pods     12          3       0  ✓",
        "2. scale 3 → 5            104          5       1  ✗  after 1.02 s",
      ].join("\n"),
    );
  });
});
