// Runs every package's tests through turbo (generate -> build -> test), on
// to the next package when one fails (--continue), and ends with one summary
// line over all packages, "tests: N passed, N failed, N skipped", because
// turbo prints each package's own runner summary separately. Exits non-zero
// if any test failed.
//
// A package's test task counts as at least one failed test when it did not
// end well without saying so: its process crashed or exited non-zero with
// no failing test reported, it printed no runner summary at all, turbo never
// ran it (a dependency's build failed), or it hung: a test task still
// running after TEST_PACKAGE_TIMEOUT seconds (default 600) has its processes
// killed, and turbo goes on to the next package.
//
// Arguments are passed to turbo (e.g. --filter=@rngbalance/dns-pool).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";

// biome-ignore lint/suspicious/noUndeclaredEnvVars: read by this script, not by a turbo task.
const timeoutS = Number(process.env.TEST_PACKAGE_TIMEOUT ?? 600);
/** How many lines of a package's failing-tests block the summary repeats. */
const failureLines = 40;
const started = Date.now();
const child = spawn(
  "turbo",
  [
    "run",
    "test",
    "--continue",
    "--concurrency=1",
    "--log-prefix=task",
    "--summarize",
    ...process.argv.slice(2),
  ],
  {
    stdio: ["ignore", "pipe", "inherit"],
    // No telemetry notice or upload from turbo, however the script is started.
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  },
);

/** Per package: the node:test summary counts its test task printed, and how it ran. */
const packages = new Map();
const pkg = (name) => {
  let p = packages.get(name);
  if (!p) {
    p = {
      pass: 0,
      fail: 0,
      skipped: 0,
      summaries: 0,
      start: Date.now(),
      end: undefined,
      timedOut: false,
      failures: undefined,
      specBlock: false,
      tap: undefined,
    };
    packages.set(name, p);
  }
  return p;
};
/** The test task whose output came last (tasks run one at a time), while it runs. */
let current;

let pending = "";
child.stdout.setEncoding("utf8").on("data", (chunk) => {
  process.stdout.write(chunk);
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    // "@rngbalance/dns-pool:test: ℹ pass 3": turbo's task prefix, then the task's own line.
    const task = /^(\S+?):([\w:-]+): (.*)$/.exec(line);
    if (!task) continue;
    const [, name, script, text] = task;
    if (current && current.name !== name) {
      current.end = Date.now();
      current = undefined;
    }
    if (script !== "test") continue;
    if (!current) current = Object.assign(pkg(name), { name });
    // The spec reporter's closing "✖ failing tests:" block (names, locations, errors) is kept,
    // bounded, and printed again under the summary: CI's record keeps only the end of a log.
    // A package whose script runs the runner twice has two such blocks: both are kept.
    if (text.trim() === "✖ failing tests:") {
      current.specBlock = true;
      current.failures ??= [];
    } else if (
      current.specBlock &&
      current.failures.length < failureLines &&
      !/\(node:|at node:internal|ELIFECYCLE/.test(text)
    )
      current.failures.push(text);
    // The TAP reporter (Node 22 without a terminal) has no such block: each failing test is a
    // "not ok" line and a YAML block up to "...". A suite's block (subtestsFailed) adds nothing.
    if (/^\s*not ok \d+ - /.test(text)) current.tap = [text.trim()];
    else if (current.tap) {
      const t = text.trim();
      if (t !== "...") current.tap.push(t);
      else {
        if (!current.tap.some((l) => l.includes("subtestsFailed"))) {
          current.failures ??= [];
          const kept = current.tap.filter(
            (l) => !/node:internal|\(<anonymous>\)|^(duration_ms|type):/.test(l),
          );
          for (const l of kept) if (current.failures.length < failureLines) current.failures.push(l);
        }
        current.tap = undefined;
      }
    }
    // node:test summaries: "# pass 3" (tap reporter) or "ℹ pass 3" (spec reporter).
    // A cancelled test (its file crashed or timed out under it) did not pass: it counts as failed.
    const m = /^(?:# |ℹ )(pass|fail|cancelled|skipped|todo) (\d+)\s*$/.exec(text.trim());
    if (!m) continue;
    const n = Number(m[2]);
    if (m[1] === "pass") {
      current.pass += n;
      current.summaries++;
    } else if (m[1] === "fail" || m[1] === "cancelled") current.fail += n;
    else current.skipped += n;
  }
});

// A hung test task: kill its processes (every process under turbo's own; one task runs at a time).
const watchdog = setInterval(() => {
  if (!current || current.end !== undefined || current.timedOut) return;
  if (Date.now() - current.start < timeoutS * 1000) return;
  current.timedOut = true;
  const turbo = descendants(child.pid).find((p) => comm(p) === "turbo");
  const victims = turbo === undefined ? [] : descendants(turbo);
  console.error(
    `\n${current.name}: tests still running after ${timeoutS} s (TEST_PACKAGE_TIMEOUT): killing them (${victims.length} processes)`,
  );
  for (const p of victims) {
    try {
      process.kill(p, "SIGKILL");
    } catch {}
  }
}, 2000);

child.on("exit", (code, signal) => {
  clearInterval(watchdog);
  if (current) current.end = Date.now();
  const tasks = turboSummary();
  const problems = [];
  const totals = { pass: 0, fail: 0, skipped: 0 };
  for (const t of tasks ?? []) {
    const p = pkg(t.name);
    p.exitCode = t.exitCode;
  }
  for (const [name, p] of packages) {
    let fail = p.fail;
    const why = p.timedOut
      ? `hung: killed after ${timeoutS} s`
      : tasks && p.exitCode === undefined
        ? "turbo did not run its tests (see its dependencies' builds above)"
        : tasks && p.exitCode !== 0 && p.fail === 0
          ? `its test process exited with ${p.exitCode === null ? "no code (killed?)" : `code ${p.exitCode}`} but reported no failing test`
          : p.summaries === 0
            ? "its test runner printed no summary (crashed, or ran no test)"
            : undefined;
    if (why) {
      fail = Math.max(fail, 1);
      problems.push(`${name}: counted as failed: ${why}`);
    }
    totals.pass += p.pass;
    totals.fail += fail;
    totals.skipped += p.skipped;
    const secs = p.end === undefined ? "" : ` (${Math.round((p.end - p.start) / 1000)} s)`;
    p.line = `  ${name}: ${p.pass} passed, ${fail} failed, ${p.skipped} skipped${secs}`;
  }
  if (!tasks) problems.push("turbo wrote no run summary: exit codes per package unknown");
  if (code !== 0 && totals.fail === 0) {
    problems.push(`turbo exited with ${signal ?? `code ${code}`}`);
    totals.fail = 1;
  }
  console.log(`\ntest packages (${process.version}, ${Math.round((Date.now() - started) / 1000)} s):`);
  for (const p of packages.values()) console.log(p.line);
  for (const p of problems) console.log(`  ${p}`);
  for (const [name, p] of packages) {
    if (!p.failures?.length) continue;
    console.log(`\nfailing tests in ${name}:`);
    for (const l of p.failures) console.log(`  ${l}`);
  }
  console.log(`tests: ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped`);
  process.exit(totals.fail > 0 || code !== 0 ? 1 : 0);
});

/**
 * The test tasks of turbo's --summarize file for this run (then removed):
 * package name and exit code (undefined: not run, null: killed). Undefined
 * when there is none.
 */
function turboSummary() {
  const dir = ".turbo/runs";
  if (!existsSync(dir)) return undefined;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).mtimeMs >= started - 1000)
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
  const file = files.at(-1);
  if (!file) return undefined;
  try {
    const summary = JSON.parse(readFileSync(file, "utf8"));
    return summary.tasks
      .filter((t) => t.task === "test")
      .map((t) => ({ name: t.package, exitCode: t.execution ? t.execution.exitCode : undefined }));
  } catch {
    return undefined;
  } finally {
    for (const f of files) rmSync(f, { force: true });
  }
}

/** Every process below pid (Linux /proc), parents before children. */
function descendants(pid) {
  const parent = new Map();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid ...": comm may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {}
  }
  const out = [];
  const visit = (p) => {
    for (const [c, pp] of parent) {
      if (pp === p) {
        out.push(c);
        visit(c);
      }
    }
  };
  visit(pid);
  return out;
}

function comm(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}
