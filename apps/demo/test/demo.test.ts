import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "@rngbalance/testkit";

const DEMO_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const CALL = /^ {2}(pod-\d+|\?)\s+│ \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d request (\d+) from (\S+) /;

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the built demo, without colours. */
function startDemo(args: string[]): Run {
  const child = spawn(process.execPath, [DEMO_MAIN, ...args], {
    env: childProcessEnv({ NO_COLOR: "1" }),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const exited = once(child, "close").then(([code, signal]) => ({ code, signal }) as Awaited<Run["exited"]>);
  return { child, out: () => out, err: () => err, exited };
}

async function runDemo(args: string[], timeoutMs = 90_000) {
  const run = startDemo(args);
  const timer = setTimeout(() => run.child.kill("SIGKILL"), timeoutMs);
  const status = await run.exited;
  clearTimeout(timer);
  return { ...status, stdout: run.out(), stderr: run.err() };
}

/** The lines from the heading starting with `from` up to the next heading. */
function section(stdout: string, from: string): string[] {
  const lines = stdout.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`▶ ${from}`));
  assert.ok(start >= 0, `no heading "${from}" in:\n${stdout}`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith("▶ "));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Every pid the demo printed, and whether its final line says all have exited. */
function checkNoChildLeft(stdout: string): number[] {
  const final = /^ {2}all (\d+) child processes have exited: pids ([\d ]+)$/m.exec(stdout);
  assert.ok(final, `no "all child processes have exited" line in:\n${stdout}`);
  const listed = final[2]!.trim().split(" ").map(Number);
  assert.equal(listed.length, Number(final[1]));
  const printed = [...stdout.matchAll(/\bpid (\d+)\b/g)].map((m) => Number(m[1]));
  for (const pid of printed)
    assert.ok(listed.includes(pid), `pid ${pid} was printed but is not in the final list`);
  for (const pid of listed) {
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `pid ${pid} is still running`);
  }
  return listed;
}

describe("pnpm demo --fast", () => {
  it("runs every phase, picks up new pods fast, drains without errors, and stops everything", async () => {
    const r = await runDemo(["--fast"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stderr, "");
    assert.ok(!r.stdout.includes("\x1b["), "no ANSI colours when stdout is not a terminal");
    for (const heading of [
      "Setting up",
      "Phase 1: round_robin over 3 pods",
      "Phase 2: scale 3 → 5",
      "Phase 3: scale 5 → 1, gracefully",
      "Phase 4: round_robin vs pick_first vs passthrough",
      "Stopping everything",
      "Summary",
    ]) {
      assert.match(r.stdout, new RegExp(`^▶ ${heading}`, "m"));
    }

    // Phase 1: strict rotation over 3 numbers, each line's label matching its address.
    const calls1 = section(r.stdout, "Phase 1")
      .map((l) => CALL.exec(l))
      .filter((m) => m !== null);
    assert.ok(calls1.length >= 9, r.stdout);
    const rns = calls1.map((m) => m[2]);
    assert.equal(new Set(rns).size, 3);
    for (let i = 0; i + 3 <= rns.length; i++) assert.equal(new Set(rns.slice(i, i + 3)).size, 3);
    assert.ok(calls1.every((m) => m[1] !== "?"));

    // Phase 2: both new pods get calls within 3 s of joining DNS, 5 numbers in all.
    const phase2 = section(r.stdout, "Phase 2");
    const pickups = phase2
      .map((l) => /✓ pod-\d+ got its first call ([\d.]+) s after it joined DNS/.exec(l))
      .filter((m) => m !== null);
    assert.equal(pickups.length, 2, phase2.join("\n"));
    for (const m of pickups) assert.ok(Number(m[1]) <= 3, `pickup took ${m[1]} s`);
    assert.match(phase2.join("\n"), /✓ \d+ calls, 5 pods, 0 errors/);

    // Phase 3: pods exit cleanly, only pod-1 is left, the client saw no error.
    const phase3 = section(r.stdout, "Phase 3").join("\n");
    assert.equal([...phase3.matchAll(/exited \(code 0\)/g)].length, 4);
    assert.match(phase3, /✓ after the drain, (\d+) of \1 calls went to pod-1/);
    assert.match(phase3, /│ summary: \d+ calls to 5 addresses in [\d.]+ s, no errors/);
    assert.match(phase3, /✓ rng-client exited code 0: 0 failed calls/);

    // Phase 4: round_robin spreads, pick_first and passthrough do not.
    const phase4 = section(r.stdout, "Phase 4").join("\n");
    assert.match(phase4, /\$ rng-client --target 127\.0\.0\.\d+:\d+ /);
    assert.equal([...phase4.matchAll(/✓ \d+ calls, 3 pods/g)].length, 1);
    assert.equal([...phase4.matchAll(/✓ \d+ calls, 1 pod \(/g)].length, 2);

    // The final table.
    const table = section(r.stdout, "Summary").join("\n");
    assert.match(table, /^ {2}1\. round_robin, 3 pods\s+\d+\s+3\s+0\s+✓/m);
    assert.match(
      table,
      /^ {2}2\. scale 3 → 5\s+\d+\s+5\s+0\s+✓\s+first call to new pods after [\d.]+ s, [\d.]+ s$/m,
    );
    assert.match(table, /^ {2}3\. scale 5 → 1\s+\d+\s+1\s+0\s+✓/m);
    assert.match(table, /^ {2}4a\. dns:\/\/\/, round_robin\s+\d+\s+3\s+0\s+✓/m);
    assert.match(table, /^ {2}4b\. dns:\/\/\/, pick_first\s+\d+\s+1\s+0\s+✓/m);
    assert.match(table, /^ {2}4c\. passthrough \S+\s+\d+\s+1\s+0\s+✓/m);
    assert.doesNotMatch(table, /✗/);

    // 3 + 2 + 2 pods and 4 clients, none left running.
    assert.equal(checkNoChildLeft(r.stdout).length, 11);
  });

  it("takes commands with --interactive and stops everything on quit", async () => {
    const run = startDemo(["--fast", "--interactive"]);
    const timer = setTimeout(() => run.child.kill("SIGKILL"), 60_000);
    try {
      const waitFor = async (pattern: RegExp) => {
        while (!pattern.test(run.out())) {
          if (run.child.exitCode !== null) assert.fail(`exited before ${pattern}:\n${run.out()}${run.err()}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await waitFor(/commands: scale N/);
      await waitFor(/request .* from 127\.0\.0\.4:/);
      run.child.stdin?.write("scale 4\n");
      await waitFor(/pod-4 .* now in DNS/);
      await waitFor(/pod-4 +│ .* request /);
      run.child.stdin?.write("kill\n");
      await waitFor(/pod-4 .* exited \(signal SIGKILL\)/);
      run.child.stdin?.write("bogus\n");
      await waitFor(/unknown command "bogus"/);
      run.child.stdin?.write("quit\n");
      const status = await run.exited;
      assert.equal(status.code, 0, run.out() + run.err());
      assert.match(run.out(), /│ summary: \d+ calls to 4 addresses/);
      checkNoChildLeft(run.out());
    } finally {
      clearTimeout(timer);
      run.child.kill("SIGKILL");
    }
  });

  it("stops everything on SIGINT and exits 130", async () => {
    const run = startDemo(["--fast"]);
    const timer = setTimeout(() => run.child.kill("SIGKILL"), 60_000);
    try {
      while (!/▶ Phase 2/.test(run.out())) {
        if (run.child.exitCode !== null) assert.fail(run.out() + run.err());
        await new Promise((r) => setTimeout(r, 20));
      }
      run.child.kill("SIGINT");
      const status = await run.exited;
      assert.equal(status.code, 130, run.out() + run.err());
      checkNoChildLeft(run.out());
    } finally {
      clearTimeout(timer);
      run.child.kill("SIGKILL");
    }
  });

  it("prints help, and exits 2 for a bad flag", async () => {
    const help = await runDemo(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--fast/);
    assert.match(help.stdout, /--interactive/);
    const bad = await runDemo(["--slow"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^rng-demo: unknown flag --slow/);
  });
});
