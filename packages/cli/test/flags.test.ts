import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  FlagError,
  formatDuration,
  parseDuration,
  parseFlags,
  renderFlagMarkdown,
  renderFlagTable,
} from "../src/index.js";

const FLAGS = {
  port: { type: "int", default: 8081, min: 0, max: 65535, env: "X_PORT", help: "listen port" },
  ratio: { type: "number", default: 0.25, max: 1, help: "a fraction" },
  timeout: { type: "duration", default: 2000, positive: true, help: "deadline" },
  policy: { type: "enum", values: ["a", "b"], default: "a", env: "X_POLICY", help: "which\nsecond line" },
  name: {
    type: "string",
    help: "optional",
    validate: (v: string) => (v.includes(" ") ? "no spaces" : undefined),
  },
  verbose: { type: "boolean", short: "v", env: "X_VERBOSE", help: "chatty" },
} as const;

function values(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const r = parseFlags(FLAGS, argv, env);
  assert.equal(r.help, false);
  return (r as Extract<typeof r, { help: false }>).values;
}

describe("parseFlags", () => {
  it("fills defaults from the spec", () => {
    assert.deepEqual(values([]), {
      port: 8081,
      ratio: 0.25,
      timeout: 2000,
      policy: "a",
      name: undefined,
      verbose: false,
    });
  });

  it("takes flags over environment variables over defaults", () => {
    assert.equal(values([], { X_PORT: "9" }).port, 9);
    assert.equal(values(["--port", "10"], { X_PORT: "9" }).port, 10);
    assert.equal(values([], { X_PORT: "" }).port, 8081, "an empty variable is unset");
    assert.equal(values([], { X_VERBOSE: "true" }).verbose, true);
    assert.equal(values(["-v"]).verbose, true);
    assert.equal(values(["--", "--policy", "b"]).policy, "b");
  });

  it("names the flag or variable, and what is wrong", () => {
    const rejects = (argv: string[], re: RegExp, env: NodeJS.ProcessEnv = {}) =>
      assert.throws(
        () => parseFlags(FLAGS, argv, env),
        (e) => e instanceof FlagError && re.test(e.message),
      );
    rejects(["--port", "x"], /^--port must be a whole number from 0 to 65535; got "x"$/);
    rejects([], /^X_PORT must be a whole number from 0 to 65535; got "70000"$/, { X_PORT: "70000" });
    rejects(["--ratio", "2"], /^--ratio must be a number from 0 to 1; got "2"$/);
    rejects(["--timeout", "5"], /^--timeout must be a duration such as 500ms, 1s or 2m; got "5"$/);
    rejects(["--timeout", "0"], /^--timeout must be more than 0; got "0"$/);
    rejects(["--policy", "c"], /^--policy must be a, b; got "c"$/);
    rejects(["--name", "a b"], /^--name: no spaces$/);
    rejects(["--bogus"], /^unknown flag --bogus$/);
    rejects(["--port"], /^--port needs a value$/);
    rejects(["stray"], /^unexpected argument "stray"/);
    rejects([], /^X_VERBOSE must be true or false; got "maybe"$/, { X_VERBOSE: "maybe" });
  });

  it("answers --help and -h, and reads Go-style single-dash flags when asked", () => {
    assert.deepEqual(parseFlags(FLAGS, ["--port", "1", "-h"]), { help: true });
    const r = parseFlags(FLAGS, ["-port", "7"], {}, { goStyle: true });
    assert.equal(r.help === false && r.values.port, 7);
  });
});

describe("renderFlagTable", () => {
  it("shows every flag with its default and variable, from the same spec", () => {
    const table = renderFlagTable(FLAGS);
    assert.match(table, /--port <n> +listen port +X_PORT +default 8081/);
    assert.match(table, /--timeout <duration> +deadline +default 2s/);
    assert.match(table, /--policy <name> +which +X_POLICY +default a\n +second line/);
    assert.match(table, /--name <value> +optional +default none/);
    assert.match(table, /-v, --verbose +chatty +X_VERBOSE +default off/);
    assert.match(table, /-h, --help +print this help$/);
  });
});

describe("renderFlagMarkdown", () => {
  it("is a Markdown table of every flag, from the same spec as --help", () => {
    const lines = renderFlagMarkdown(FLAGS).split("\n");
    assert.match(lines[0] ?? "", /^\| Flag +\| Environment +\| Default +\| What it does +\|$/);
    assert.match(lines[1] ?? "", /^\| -+ \| -+ \| -+ \| -+ \|$/);
    assert.equal(lines.length, 2 + Object.keys(FLAGS).length, "one row per flag");
    const row = (flag: string) => lines.find((l) => l.startsWith(`| \`${flag}`)) ?? "";
    assert.match(row("--port <n>"), /\| `X_PORT` +\| `8081` +\| listen port +\|$/);
    assert.match(row("--policy <name>"), /\| which second line +\|$/, "multi-line help joins into one cell");
    assert.match(row("--name <value>"), /\| none +\| optional +\|$/);
    assert.match(row("-v, --verbose"), /\| `off` +\| chatty +\|$/);
    const widths = new Set(lines.map((l) => l.length));
    assert.equal(widths.size, 1, "columns are aligned");
  });

  it("escapes a pipe in help so that it cannot split a cell", () => {
    const table = renderFlagMarkdown({ mode: { type: "string", help: "a|b", default: "x|y" } });
    assert.match(table, /`x\\\|y` +\| a\\\|b/);
  });
});

describe("durations", () => {
  it("parse and format round trip", () => {
    for (const [text, ms] of [
      ["500ms", 500],
      ["1.5s", 1500],
      ["2m", 120_000],
      ["1m30s", 90_000],
      ["1h", 3_600_000],
      ["0", 0],
    ] as const) {
      assert.equal(parseDuration(text), ms);
      assert.equal(parseDuration(formatDuration(ms)), ms);
    }
    assert.equal(parseDuration("-1s"), undefined);
    assert.equal(parseDuration("5"), undefined);
  });
});
