import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, it } from "node:test";
import { childProcessEnv, inspectOnDemandEnv } from "@rngbalance/testkit";
import { captureStuckStack } from "../src/stuck-stack.js";

describe("captureStuckStack", () => {
  it("reports the frames of a child whose event loop never turns again", async () => {
    const child = spawn(
      process.execPath,
      ["-e", "function spinForever() { console.log('spinning'); for (;;) {} }\nspinForever();"],
      { stdio: ["ignore", "pipe", "pipe"], env: childProcessEnv(inspectOnDemandEnv()) },
    );
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    try {
      await once(child.stdout, "data");
      const stack = await captureStuckStack(child, { text: () => stderr });
      assert.match(stack.split("\n")[0] ?? "", /^at spinForever \(/, stack);
    } finally {
      child.kill("SIGKILL");
      await once(child, "exit").catch(() => {});
    }
  });

  it("says so for a process that has exited", async () => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: ["ignore", "ignore", "pipe"] });
    await once(child, "exit");
    assert.equal(await captureStuckStack(child, { text: () => "" }), "(the process had exited)");
  });
});
