// Runs every package's tests through turbo (generate -> build -> test) and
// ends with one summary line over all packages, "tests: N passed, N failed",
// because turbo prints each package's own runner summary separately.
import { spawn } from "node:child_process";

const child = spawn(
  "turbo",
  ["run", "test", "--concurrency=1", "--log-prefix=none", ...process.argv.slice(2)],
  {
    stdio: ["ignore", "pipe", "inherit"],
    // No telemetry notice or upload from turbo, however the script is started.
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  },
);
const totals = { pass: 0, fail: 0, skipped: 0 };
let pending = "";
child.stdout.setEncoding("utf8").on("data", (chunk) => {
  process.stdout.write(chunk);
  pending += chunk;
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    // node:test summaries: "# pass 3" (tap reporter) or "ℹ pass 3" (spec reporter).
    const m = /^(?:# |ℹ )(pass|fail|skipped) (\d+)\s*$/.exec(line.trim());
    if (m) totals[m[1]] += Number(m[2]);
  }
});
child.on("exit", (code) => {
  const failed = code === 0 ? totals.fail : Math.max(totals.fail, 1);
  console.log(`\ntests: ${totals.pass} passed, ${failed} failed, ${totals.skipped} skipped`);
  process.exit(code ?? 1);
});
