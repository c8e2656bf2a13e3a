// SIGSTOP/SIGCONT need no privileges: these run everywhere.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { freezeProcess } from "../src/index.js";

test("freezeProcess stops a process (no output while frozen) and resume() continues it", async () => {
  const child = spawn(process.execPath, ["-e", "setInterval(() => console.log('tick'), 20)"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    let ticks = 0;
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      ticks += c.split("tick").length - 1;
    });
    await once(child.stdout, "data");
    const frozen = freezeProcess(child.pid as number);
    await new Promise((r) => setTimeout(r, 100)); // output already in the pipe drains
    const before = ticks;
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(ticks, before, "no tick while stopped");
    frozen.resume();
    frozen.resume(); // idempotent
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(ticks > before + 5, `ticks again after resume (${ticks - before})`);
  } finally {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await once(child, "exit").catch(() => {});
  }
});

test("freezeProcess rejects a pid that cannot be one", () => {
  assert.throws(() => freezeProcess(0), /pid must be a positive integer, got 0/);
  assert.throws(() => freezeProcess(1.5), /pid must be a positive integer, got 1.5/);
});
