/**
 * The package's `rng-server` program: `main` behaves as the command (usage
 * and exit codes), run from the package's own `./main` entry or from any
 * other entry that imports it (as the apps/server app does).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type MainWrapper, runNode, writeMainWrapper } from "@rngbalance/testkit";
import { USAGE } from "../src/index.js";

const PACKAGE_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const PACKAGE_INDEX = pathToFileURL(fileURLToPath(new URL("../dist/index.js", import.meta.url))).href;

/** An entry point of its own, outside the package, that runs the package's exported main (as apps/server does). */
let entry: MainWrapper;
let wrapper: string;
before(() => {
  entry = writeMainWrapper(PACKAGE_INDEX);
  wrapper = entry.path;
});
after(() => entry.remove());

describe("main (the rng-server program)", () => {
  for (const [name, entry] of [
    ["the package's main entry", () => PACKAGE_MAIN],
    ["an entry that imports main", () => wrapper],
  ] as const) {
    it(`prints the usage on --help (exit 0), and on a bad flag with the problem (exit 2): ${name}`, async () => {
      const help = await runNode(entry(), ["--help"]);
      assert.deepEqual(
        { code: help.code, stdout: help.stdout, stderr: help.stderr },
        { code: 0, stdout: `${USAGE}\n`, stderr: "" },
      );
      const bad = await runNode(entry(), ["--fault", "sometimes"]);
      assert.equal(bad.code, 2);
      assert.equal(bad.stdout, "");
      assert.match(
        bad.stderr,
        /^rng-server: --fault: must be none, unavailable, not-serving.*got "sometimes"\n/,
      );
      assert.ok(bad.stderr.endsWith(`\n\n${USAGE}\n`));
    });
  }
});
