import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspectOnDemandEnv, spawnNode } from "@rngbalance/testkit";
import { captureStuckStack } from "../src/stuck-stack.js";

describe("captureStuckStack", () => {
  it("reports the frames of a child whose event loop never turns again", async () => {
    const spinner = spawnNode(
      "-e",
      ["function spinForever() { console.log('spinning'); for (;;) {} }\nspinForever();"],
      { env: inspectOnDemandEnv() },
    );
    try {
      await spinner.waitForLines(/spinning/, 1);
      const stack = await captureStuckStack(spinner.child, { text: spinner.stderr });
      assert.match(stack.split("\n")[0] ?? "", /^at spinForever \(/, stack);
    } finally {
      await spinner.stop("SIGKILL");
    }
  });

  it("says so for a process that has exited", async () => {
    const done = spawnNode("-e", [""]);
    await done.exited;
    assert.equal(await captureStuckStack(done.child, { text: done.stderr }), "(the process had exited)");
  });
});
