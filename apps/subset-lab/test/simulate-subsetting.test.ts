import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const script = join(packageDir, "src", "simulate-subsetting.ts");

function simulate(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: packageDir,
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("simulate-subsetting script", () => {
  const out = mkdtempSync(join(tmpdir(), "subset-sim-"));
  after(() => rmSync(out, { recursive: true, force: true }));

  it("prints a Markdown table for every algorithm and writes the SVG chart", () => {
    const flags = ["--clients", "40", "--servers", "30", "--subset", "5", "--trials", "2", "--out", out];
    const run = simulate(...flags);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /### C=40 clients, S=30 servers, k=5/);
    assert.match(run.stdout, /\| algorithm \| client position \| conns\/server min \|/);
    for (const name of ["aperture ★", "deterministic \\(SRE\\)", "rendezvous ★", "random"]) {
      assert.match(run.stdout, new RegExp(`\\| ${name} \\|`));
    }
    // Aperture with known indexes: 40*5/30 = 6.67, so 6 or 7 per server.
    assert.match(run.stdout, /\| aperture ★ \| index i of C \| 6 \| 6\.67 \| 7 \| 1\.05 \|/);
    const svg = readFileSync(join(out, "subsetting.svg"), "utf8");
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.equal(svg.match(/<polyline /g)?.length, 6);
    // Deterministic: the same flags give the same output.
    const again = simulate(...flags);
    assert.equal(again.stdout, run.stdout);
  });

  it("exits 2 with a clear message on bad flags", () => {
    for (const [args, message] of [
      [["--clients", "0"], /--clients must be a whole number from 1 to 100000; got "0"/],
      [["--servers", "ten"], /--servers must be a whole number/],
      [["--subset", "2.5"], /--subset must be a whole number/],
      [["--bogus"], /unknown flag --bogus/],
      [["--clients"], /--clients needs a value/],
      [["extra"], /unexpected argument "extra"/],
    ] as const) {
      const run = simulate(...args);
      assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.match(run.stderr, /usage: simulate-subsetting/);
      assert.equal(run.stdout, "");
    }
  });

  it("prints usage for --help", () => {
    const run = simulate("--help");
    assert.equal(run.status, 0);
    assert.match(run.stdout, /usage: simulate-subsetting/);
  });
});
