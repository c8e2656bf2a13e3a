import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { inspectOnDemandEnv, spawnJsonLogServer } from "@rngbalance/testkit";
import fc from "fast-check";
import { type Batch, type H2Op, runFuzz, valueAt, writePlanArb } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "wire-fuzz-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A stand-in server: gRPC Health/Check answers SERVING; a stream for /crash
 * exits 3 (after a word on stderr); /garbage allocates ~80 MB it drops at
 * once (large arrays: only a full GC frees them, and an idle process runs
 * none); /leak keeps ~80 MB for good.
 */
const FAKE_SERVER = join(dir, "fake-server.mjs");
writeFileSync(
  FAKE_SERVER,
  `import * as http2 from "node:http2";
const server = http2.createServer();
const kept = [];
server.on("stream", (stream, headers) => {
  if (headers[":path"] === "/crash") { process.stderr.write("boom: /crash\\n"); process.exit(3); }
  if (headers[":path"] === "/garbage" || headers[":path"] === "/leak") {
    for (let i = 0; i < 10; i++) {
      const a = new Array(1_000_000).fill(i);
      if (headers[":path"] === "/leak") kept.push(a);
    }
  }
  stream.on("error", () => {});
  stream.resume();
  stream.on("end", () => {
    if (stream.destroyed) return;
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
  });
});
server.listen(0, "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", address: "127.0.0.1:" + server.address().port }));
});
`,
);

const call = (path: string): H2Op => ({
  op: "call",
  block: {
    kind: "request",
    method: "POST",
    path,
    authority: "127.0.0.1",
    contentType: "application/grpc",
    te: true,
    metadata: [],
    many: null,
    mangle: null,
    encoding: "auto",
  },
  bodyFrames: 1,
  finish: "end",
  resetCode: 0,
});

/** Batches of calls to /ok and, now and then, /crash, among pings. */
const arb: fc.Arbitrary<Batch> = fc.record({
  parallel: fc.constant(1),
  sequences: fc.array(
    fc.record({
      proto: fc.constant("h2" as const),
      preface: fc.constant("valid" as const),
      settings: fc.constant([]),
      ops: fc.array(
        fc.oneof(
          { weight: 6, arbitrary: fc.constant(call("/ok")) },
          { weight: 1, arbitrary: fc.constant(call("/crash")) },
          { weight: 3, arbitrary: fc.constant<H2Op>({ op: "ping", ack: false, payload: new Uint8Array(8) }) },
        ),
        { maxLength: 8 },
      ),
      write: writePlanArb.map((w) => ({ ...w, lingerMs: Math.min(w.lingerMs, 20) })),
    }),
    { minLength: 1, maxLength: 3 },
  ),
});

describe("runFuzz", () => {
  it("passes a server that survives, and stops it", async () => {
    let child: { exitCode: number | null; signalCode: string | null } | undefined;
    const summary = await runFuzz({
      spawn: async () => {
        const s = await spawnJsonLogServer({ main: FAKE_SERVER });
        child = s.child;
        return s;
      },
      seeds: [1],
      runsPerSeed: 5,
      arbitrary: fc.constant<Batch>({
        parallel: 2,
        sequences: [
          {
            proto: "h2",
            preface: "valid",
            settings: [],
            ops: [call("/ok")],
            write: { cuts: [], lingerMs: 10, close: "end" },
          },
        ],
      }),
    });
    assert.equal(summary.failures.length, 0, summary.failures[0]?.report);
    assert.equal(summary.runs, 5);
    assert.equal(summary.spawns, 1);
    assert.ok(summary.stats.sequences === 5 && summary.stats.frames > 0);
    assert.ok(child && (child.exitCode !== null || child.signalCode !== null), "the server was stopped");
  });

  it("finds a crash, shrinks it to one call, and reports the seed, the server's stderr and the replay command", async () => {
    const seed = 42;
    const summary = await runFuzz({
      spawn: () => spawnJsonLogServer({ main: FAKE_SERVER }),
      seeds: [seed],
      runsPerSeed: 50,
      seedTimeLimitMs: 60_000,
      arbitrary: arb,
      replayCommand: (s, p) => `replay ${s} ${p}`,
    });
    assert.equal(summary.failures.length, 1);
    const failure = summary.failures[0]!;
    const report = failure.report ?? "";
    assert.match(report, /seed 42/);
    assert.match(report, /exited with code 3/);
    assert.match(report, /boom: \/crash/);
    assert.match(report, new RegExp(`replay 42 ${failure.counterexamplePath}`));
    assert.ok(summary.spawns >= 2, "a fresh server after the crash");
    // fast-check shrank it to the single crashing call (fast-check's array
    // shrinker may leave an empty sequence after it: it removes items from the front).
    const shrunk = valueAt(seed, failure.counterexamplePath ?? "", arb);
    const ops = shrunk.sequences.flatMap((s) => (s.proto === "h2" ? s.ops : []));
    assert.deepEqual(ops, [call("/crash")]);
  });

  describe("memory judged after a full GC through the inspector (gcThroughInspector)", () => {
    /** One batch of one call to `path`, 3 runs, RSS allowed 16 MiB over the baseline. */
    const runOn = (path: string, gcThroughInspector: boolean) =>
      runFuzz({
        spawn: () =>
          spawnJsonLogServer({
            main: FAKE_SERVER,
            ...(gcThroughInspector ? { env: inspectOnDemandEnv() } : {}),
          }),
        seeds: [1],
        runsPerSeed: 3,
        seedTimeLimitMs: 60_000,
        tolerance: { rssBytes: 16 * 1024 * 1024 },
        gcThroughInspector,
        arbitrary: fc.constant<Batch>({
          parallel: 1,
          sequences: [
            {
              proto: "h2",
              preface: "valid",
              settings: [],
              ops: [call(path)],
              write: { cuts: [], lingerMs: 10, close: "end" },
            },
          ],
        }),
      });

    it("without it, garbage an idle server has not collected yet is a finding", async () => {
      const summary = await runOn("/garbage", false);
      assert.equal(summary.failures.length, 1);
      assert.equal(summary.failures[0]?.kind, "resources: rss");
    });

    it("with it, the same garbage passes (counted as rescued by a GC), and the inspector's descriptors are in the baseline", async () => {
      const summary = await runOn("/garbage", true);
      assert.equal(summary.failures.length, 0, summary.failures[0]?.report);
      assert.ok(summary.gcRescues >= 1, `rescued ${summary.gcRescues}`);
      assert.equal(summary.spawns, 1);
    });

    it("with it, memory still in use after the GC is a finding that says so", async () => {
      const summary = await runOn("/leak", true);
      assert.equal(summary.failures.length, 1);
      assert.equal(summary.failures[0]?.kind, "resources: rss");
      assert.match(summary.failures[0]?.report ?? "", /after a full GC through the inspector/);
    });
  });
});
