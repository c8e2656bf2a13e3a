import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  childProcessEnv,
  collectGarbage,
  freePort,
  inspectOnDemandEnv,
  openInspector,
  runNode,
  spawnJsonLogServer,
  spawnNode,
  until,
} from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "testkit-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let scripts = 0;
/** A script file with `body` (node cannot run a data: URL as its main module). */
const SCRIPT = (body: string) => {
  const file = join(dir, `script-${scripts++}.mjs`);
  writeFileSync(file, body);
  return file;
};

describe("testkit", () => {
  it("childProcessEnv drops NODE_TEST_CONTEXT and adds extras", () => {
    const env = childProcessEnv({ EXTRA: "1" });
    assert.equal(env.NODE_TEST_CONTEXT, undefined);
    assert.equal(env.EXTRA, "1");
  });

  it("runNode returns the exit status and output; spawnNode waits for lines", async () => {
    const r = await runNode(SCRIPT('console.log("a");console.error("b");process.exit(3)'), []);
    assert.deepEqual([r.code, r.stdout, r.stderr], [3, "a\n", "b\n"]);
    const p = spawnNode(
      SCRIPT('let i=0;const t=setInterval(()=>{console.log("tick "+i++);if(i>3)clearInterval(t)},10)'),
      [],
    );
    await p.waitForLines(/^tick \d$/, 3);
    assert.equal((await p.exited).code, 0);
    await assert.rejects(p.waitForLines(/never/, 1, 100), /exited before 1 lines matching/);
  });

  it("spawnJsonLogServer resolves on the ready line, and rejects with stderr when the server dies first", async () => {
    const port = await freePort();
    const server = await spawnJsonLogServer({
      main: SCRIPT(
        `import("node:net").then(({createServer})=>{const srv=createServer();srv.listen(${port},"127.0.0.1",()=>console.log(JSON.stringify({msg:"listening",address:"127.0.0.1:${port}"})));process.on("SIGTERM",()=>srv.close(()=>process.exit(0)))})`,
      ),
      name: "fake",
    });
    assert.equal(server.port, port);
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: server.host, port }, () => {
        socket.destroy();
        resolve();
      });
      socket.on("error", reject);
    });
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
    await assert.rejects(
      spawnJsonLogServer({ main: SCRIPT('console.error("boom");process.exit(1)'), name: "fake" }),
      /fake exited \(1\) before listening: boom/,
    );
  });

  it("until returns how long it took, or throws naming what it waited for", async () => {
    const started = Date.now();
    assert.ok((await until(() => Date.now() - started > 20, 1000, "time")) >= 20);
    await assert.rejects(
      until(() => false, 30, "nothing"),
      /nothing: not within 30 ms/,
    );
  });
});

describe("a child's inspector, opened on demand", () => {
  it("opens on a free loopback port at SIGUSR1, once, and runs a full GC that gives dropped memory back", async () => {
    // Allocates ~80 MB in large arrays and drops them: an idle V8 keeps them until a full GC.
    const child = spawnNode(
      "-e",
      [
        "let n = 0; for (let i = 0; i < 10; i++) n += new Array(1_000_000).fill(i).length; console.log(n); setInterval(() => {}, 1000);",
      ],
      { env: inspectOnDemandEnv() },
    );
    const rssMiB = () =>
      Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${child.child.pid}/status`, "utf8"))?.[1]) / 1024;
    try {
      await child.waitForLines(/^10000000$/, 1);
      assert.equal(child.stderr(), "", "nothing listens before the signal");
      const url = await openInspector(child.child, child.stderr);
      assert.match(url ?? "", /^ws:\/\/127\.0\.0\.1:\d+\//);
      assert.doesNotMatch(url ?? "", /:9229\//, "not the default port");
      assert.equal(await openInspector(child.child, child.stderr), url, "the URL already printed is reused");
      assert.equal(child.stderr().match(/Debugger listening/g)?.length, 1, "one signal, one inspector");
      const before = rssMiB();
      assert.equal(await collectGarbage(child.child, child.stderr), true);
      const after = rssMiB();
      assert.ok(before - after > 40, `RSS ${before.toFixed(1)} -> ${after.toFixed(1)} MiB`);
    } finally {
      await child.stop("SIGKILL");
    }
  });

  it("says undefined for a process that has exited", async () => {
    const done = spawnNode("-e", [""]);
    await done.exited;
    assert.equal(await openInspector(done.child, done.stderr), undefined);
    assert.equal(await collectGarbage(done.child, done.stderr), false);
  });
});
