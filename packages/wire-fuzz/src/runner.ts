/**
 * The fuzz runner: fast-check properties whose runs each send a batch of
 * generated sequences to a real server process, then check it is alive,
 * healthy and back to its resource baseline. A failed run kills the
 * process and the next run (including fast-check's shrinking runs) gets a
 * fresh one, so every run starts from the same state.
 */
import { randomInt } from "node:crypto";
import { gzipSync } from "node:zlib";
import { collectGarbageAt, openInspector } from "@rngbalance/testkit";
import fc, { type Arbitrary, type RunDetails } from "fast-check";
import { batchArb } from "./arbitraries.js";
import {
  DEFAULT_TOLERANCE,
  type FuzzTarget,
  healthCheck,
  isAlive,
  type Resources,
  readFdTargets,
  readResources,
  settledResources,
  type Tolerance,
} from "./checks.js";
import type { Batch } from "./model.js";
import { addStats, emptyStats, type SendStats, sendBatch } from "./send.js";

export interface RunFuzzOptions {
  /** Starts the server under test (a child process that is listening). */
  spawn: () => Promise<FuzzTarget>;
  /** Fixed seeds, run first, each for `runsPerSeed` runs. */
  seeds?: readonly number[];
  /** Fresh (random) seeds to run after the fixed ones. Default 0, or 1 when nothing else is asked. */
  freshSeeds?: number;
  /** Keep drawing fresh seeds until this many seconds have passed (the current seed finishes). */
  seconds?: number;
  /** Replay: this seed (and `path`, a counterexample path from a failure report) only. */
  replay?: { seed: number; path?: string };
  /** Property runs per seed. Default 25. */
  runsPerSeed?: number;
  /** Time limit for one seed, shrinking included (fast-check's interruptAfterTimeLimit). Default 120000. */
  seedTimeLimitMs?: number;
  /** Stop at the first failing seed. Default true. */
  stopOnFailure?: boolean;
  /** How far RSS and fds may stay above their baseline, and how long to wait. */
  tolerance?: Partial<Tolerance>;
  /** Deadline of the Health/Check after each batch. Default 1000. */
  healthTimeoutMs?: number;
  /**
   * When RSS stays over the tolerance after a batch, run a full garbage
   * collection in the server through its inspector (testkit's
   * `collectGarbage`) and measure again: only memory still resident after
   * it is a finding. Garbage V8 has not collected yet is not a leak, and an
   * idle server may keep it for a long time (a burst of a few thousand
   * general-path calls leaves RSS 70+ MiB up on Node 24 and 26, back to
   * +5-10 MiB after a full GC). The server must be a Node process started
   * with testkit's `INSPECT_ON_DEMAND` in `NODE_OPTIONS` (SIGUSR1 opens its
   * inspector on a free port). Default false: RSS is judged as it stands.
   */
  gcThroughInspector?: boolean;
  /** Longest one sequence may take before its socket is destroyed. Default 5000. */
  sequenceTimeoutMs?: number;
  /** What a failure report suggests to replay it. Default `pnpm fuzz --seed S --path "P"`. */
  replayCommand?: (seed: number, path: string) => string;
  /** Progress lines (seeds, counts). Default: none. */
  log?: (line: string) => void;
  /** The batches to send. Default {@link batchArb}. */
  arbitrary?: Arbitrary<Batch>;
}

/** The outcome of one seed. */
export interface SeedResult {
  seed: number;
  fixed: boolean;
  /** Property runs, shrinking runs included. */
  runs: number;
  failed: boolean;
  /** The failure report: seed, path, shrunk counterexample, the server's last words, the replay command. */
  report?: string;
  counterexamplePath?: string;
  /** The kind of the failure (see {@link CheckFailure}). */
  kind?: string;
  durationMs: number;
  stats: SendStats;
}

export interface FuzzSummary {
  results: SeedResult[];
  failures: SeedResult[];
  stats: SendStats;
  runs: number;
  /** Server processes started. */
  spawns: number;
  durationMs: number;
  peak: Resources | undefined;
  /** Batches after which RSS was over the tolerance until a full GC (`gcThroughInspector`) brought it back. */
  gcRescues: number;
}

/**
 * A failed check. `kind` names the finding ("died: exit 1 ERR_HTTP2_INVALID_STREAM",
 * "died: SIGABRT", "unhealthy", "resources: fds"): while fast-check shrinks a
 * seed's first failure, a run that fails with another kind counts as a pass,
 * so that the shrunk counterexample is one for the bug first found and does
 * not slip to another one (the others are listed in the report).
 */
export class CheckFailure extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
    this.name = "CheckFailure";
  }
}

/** The error a failing seed throws out of fast-check's reporter. */
export class FuzzFailure extends Error {
  constructor(
    message: string,
    readonly seed: number,
    readonly path: string,
  ) {
    super(message);
    this.name = "FuzzFailure";
  }
}

export const DEFAULT_REPLAY_COMMAND = (seed: number, path: string) =>
  `pnpm fuzz --seed ${seed} --path "${path}"`;

/** A fresh seed, as fast-check takes them (a 31-bit integer). */
export function freshSeed(): number {
  return randomInt(0, 0x7fffffff);
}

const WRITE_ONCE = { cuts: [], lingerMs: 100, close: "end" } as const;

/** Sent to each fresh server before its baseline is taken: a gRPC call over HTTP/2, Connect over HTTP/1.1, gzip. */
export const WARMUP: Batch = {
  parallel: 1,
  sequences: [
    {
      proto: "h2",
      preface: "valid",
      settings: [],
      ops: [
        {
          op: "call",
          block: {
            kind: "fields",
            encoding: "auto",
            fields: [
              [":method", "POST"],
              [":scheme", "http"],
              [":path", "/rng.v1.RngService/Generate"],
              [":authority", "127.0.0.1"],
              ["content-type", "application/grpc"],
              ["te", "trailers"],
              ["grpc-encoding", "gzip"],
            ],
          },
          body: {
            kind: "envelopes",
            envelopes: [{ message: new Uint8Array(gzipSync(Buffer.alloc(0))), compressed: true }],
          },
          bodyFrames: 1,
          finish: "end",
          resetCode: 0,
        },
      ],
      write: WRITE_ONCE,
    },
    {
      proto: "http1",
      requests: [
        {
          kind: "request",
          method: "POST",
          target: "/rng.v1.RngService/Generate",
          version: "HTTP/1.1",
          headers: [
            ["Host", "127.0.0.1"],
            ["Content-Type", "application/json"],
          ],
          body: {
            kind: "fixed",
            bytes: new Uint8Array(Buffer.from("{}")),
            lengthDelta: 0,
            omitLength: false,
          },
        },
      ],
      write: WRITE_ONCE,
    },
  ],
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

/** Long runs of one character (20 KB header values, …) shortened for printing. */
function shortenRuns(text: string): string {
  const out = text.replace(/(.)\1{39,}/gs, (run, c: string) => `${c.repeat(8)}…(${run.length}×)`);
  return out.length > 30_000 ? `${out.slice(0, 30_000)}\n… (${out.length - 30_000} more characters)` : out;
}

/** The server process under test, respawned after every failure. */
class ServerUnderTest {
  private target: FuzzTarget | undefined;
  /** Every process started, to make sure none outlives the run. */
  private readonly started = new Set<FuzzTarget>();
  private exited = false;
  private stderr = "";
  private baseline: Resources | undefined;
  private baselineFds = new Map<number, string>();
  spawns = 0;
  peak: Resources | undefined;
  gcRescues = 0;
  /** The server's inspector, opened before the baseline (gcThroughInspector). */
  private inspectorUrl: string | undefined;

  constructor(
    private readonly spawn: () => Promise<FuzzTarget>,
    private readonly tolerance: Tolerance,
    private readonly healthTimeoutMs: number,
    private readonly gcThroughInspector = false,
  ) {}

  /** A live server, fresh if the last one died or failed a check. */
  async ensure(): Promise<FuzzTarget> {
    if (this.target && isAlive(this.target.child, this.exited)) return this.target;
    await this.kill();
    const target = await this.spawn();
    this.started.add(target);
    void target.exited.then(() => this.started.delete(target));
    this.spawns++;
    this.target = target;
    this.exited = false;
    this.stderr = "";
    void target.exited.then(() => {
      if (this.target === target) this.exited = true;
    });
    target.child.stderr?.on("data", (chunk: Buffer | string) => {
      if (this.target === target) this.stderr = (this.stderr + String(chunk)).slice(-64 * 1024);
    });
    // Warm up (first connections, first calls of each kind, gzip) and take the
    // baseline once the descriptor count holds still: whatever the process
    // opens once and keeps (a thread pool's descriptors, …) is in the baseline.
    for (let i = 0; i < 3; i++) await healthCheck(target, 5000);
    await sendBatch(target, WARMUP, 5000);
    await healthCheck(target, 5000);
    // The inspector, once open, keeps a thread and its descriptors: open it before the baseline.
    // Its URL is kept here: the server's stderr, where Node prints it once, is only kept in part.
    this.inspectorUrl = undefined;
    if (this.gcThroughInspector) {
      this.inspectorUrl = await openInspector(target.child, () => this.stderr);
      if (!this.inspectorUrl) {
        throw new Error(
          "gcThroughInspector: the server's inspector did not open (start it with INSPECT_ON_DEMAND)",
        );
      }
    }
    this.baseline = await steadyResources(target.child.pid ?? 0);
    this.baselineFds = readFdTargets(target.child.pid ?? 0);
    return target;
  }

  /** Kills the current process (a failed check leaves it in an unknown state). */
  async kill(): Promise<void> {
    const target = this.target;
    this.target = undefined;
    if (!target) return;
    if (isAlive(target.child, false)) target.child.kill("SIGKILL");
    await Promise.race([target.exited, sleep(5000)]);
  }

  /** Stops the current process gracefully (SIGTERM, then SIGKILL after 5 s), and kills any other still running. */
  async stop(): Promise<void> {
    const target = this.target;
    this.target = undefined;
    if (target) {
      const stopped = await Promise.race([
        target.stop("SIGTERM").then(() => true),
        sleep(5000).then(() => false),
      ]);
      if (!stopped) {
        target.child.kill("SIGKILL");
        await Promise.race([target.exited, sleep(5000)]);
      }
    }
    // A safety net: no process of the run outlives it.
    for (const other of this.started) {
      if (isAlive(other.child, false)) other.child.kill("SIGKILL");
      await Promise.race([other.exited, sleep(5000)]);
    }
  }

  private async deathReport(target: FuzzTarget, when: string): Promise<CheckFailure> {
    const status = await Promise.race([target.exited, sleep(1000).then(() => undefined)]);
    // Give the last of stderr a moment to arrive.
    await sleep(50);
    const how = status
      ? status.signal
        ? `killed by ${status.signal}`
        : `exited with code ${status.code}`
      : "is gone (no exit status yet)";
    const logs = target.logs
      .slice(-5)
      .map((l) => JSON.stringify(l))
      .join("\n");
    const message = [
      `server (pid ${target.child.pid}) ${how} ${when}`,
      "--- its stderr (last 30 lines) ---",
      lastLines(this.stderr, 30) || "(empty)",
      "--- its last log lines ---",
      logs || "(none)",
    ].join("\n");
    // The kind of death: how it ended and the first Node error code on stderr.
    const code = /\b(ERR_[A-Z0-9_]+)\b/.exec(this.stderr)?.[1] ?? "";
    const end = status ? (status.signal ?? `exit ${status.code}`) : "gone";
    return new CheckFailure(message, `died: ${end}${code ? ` ${code}` : ""}`);
  }

  /**
   * The checks after a batch; throws a {@link CheckFailure} describing the
   * first that fails. `resources: false` skips the RSS/fd check (and its
   * wait for them to settle).
   */
  async check(target: FuzzTarget, { resources = true } = {}): Promise<void> {
    if (!isAlive(target.child, this.exited)) throw await this.deathReport(target, "during the batch");
    let healthError: unknown;
    // Two tries, each with its own deadline: one slow answer on a shared
    // machine is noise, two in a row are a finding.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await healthCheck(target, this.healthTimeoutMs);
        healthError = undefined;
        break;
      } catch (err) {
        healthError = err;
        // A process that just died may not be reaped yet (kill(pid, 0) still
        // succeeds on a zombie): give its exit a moment to arrive.
        await Promise.race([target.exited, sleep(500)]);
        if (!isAlive(target.child, this.exited)) {
          throw await this.deathReport(target, "after the batch (Health/Check failed)");
        }
      }
    }
    if (healthError !== undefined) {
      throw new CheckFailure(
        `Health/Check failed twice after the batch (deadline ${this.healthTimeoutMs} ms): ${String(healthError)}\n` +
          `--- server stderr (last 30 lines) ---\n${lastLines(this.stderr, 30)}`,
        "unhealthy",
      );
    }
    const baseline = this.baseline;
    const pid = target.child.pid;
    if (!resources || !baseline || pid === undefined) return;
    let settled = await settledResources(pid, baseline, this.tolerance);
    let afterGc = "";
    const rssOver = (r: Resources) => r.rssBytes > baseline.rssBytes + this.tolerance.rssBytes;
    if (!settled.ok && settled.last && rssOver(settled.last) && this.inspectorUrl) {
      try {
        await collectGarbageAt(this.inspectorUrl);
        settled = await settledResources(pid, baseline, { ...this.tolerance, settleMs: 1000 });
        afterGc = " (and after a full GC through the inspector)";
        if (settled.ok) this.gcRescues++;
      } catch (err) {
        afterGc = ` (a full GC through the inspector was asked for and failed: ${String(err)})`;
      }
    }
    if (settled.last) {
      this.peak = {
        rssBytes: Math.max(this.peak?.rssBytes ?? 0, settled.last.rssBytes),
        fds: Math.max(this.peak?.fds ?? 0, settled.last.fds),
      };
    }
    if (!settled.ok && settled.last) {
      const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
      const extra = [...readFdTargets(pid)]
        .filter(([fd, link]) => this.baselineFds.get(fd) !== link)
        .map(([fd, link]) => `${fd} -> ${link}`);
      const over = [
        settled.last.rssBytes > baseline.rssBytes + this.tolerance.rssBytes ? "rss" : "",
        settled.last.fds > baseline.fds + this.tolerance.fds ? "fds" : "",
      ].filter(Boolean);
      throw new CheckFailure(
        `resources did not come back to the baseline within ${this.tolerance.settleMs} ms${afterGc}: ` +
          `RSS ${mib(settled.last.rssBytes)} (baseline ${mib(baseline.rssBytes)}, tolerance +${mib(this.tolerance.rssBytes)}), ` +
          `fds ${settled.last.fds} (baseline ${baseline.fds}, tolerance +${this.tolerance.fds})` +
          (extra.length ? `; descriptors not there at the baseline: ${extra.join(", ")}` : ""),
        `resources: ${over.join("+")}`,
      );
    }
    if (!isAlive(target.child, this.exited)) throw await this.deathReport(target, "after the checks");
  }
}

/** Resources once the fd count holds still for 100 ms (at most 2 s). */
async function steadyResources(pid: number): Promise<Resources | undefined> {
  let last = readResources(pid);
  for (let i = 0; i < 20 && last; i++) {
    await sleep(100);
    const now = readResources(pid);
    if (!now) return last;
    if (now.fds === last.fds) return now;
    last = now;
  }
  return last;
}

/**
 * Runs the fuzzer: for each seed, a fast-check async property over batches
 * ({@link batchArb}), each run sending its batch to the server and checking
 * it afterwards. A failing seed is shrunk by fast-check to a minimal batch,
 * and its report carries the seed, the counterexample path and the command
 * to replay it. Resolves with a summary (it does not throw on a failure:
 * see `summary.failures`); the server is stopped before it returns.
 */
export async function runFuzz(options: RunFuzzOptions): Promise<FuzzSummary> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const tolerance: Tolerance = { ...DEFAULT_TOLERANCE, ...options.tolerance };
  const server = new ServerUnderTest(
    options.spawn,
    tolerance,
    options.healthTimeoutMs ?? 1000,
    options.gcThroughInspector,
  );
  const arbitrary = options.arbitrary ?? batchArb;
  const runsPerSeed = options.runsPerSeed ?? 25;
  const seedTimeLimitMs = options.seedTimeLimitMs ?? 120_000;
  const replayCommand = options.replayCommand ?? DEFAULT_REPLAY_COMMAND;
  const sequenceTimeoutMs = options.sequenceTimeoutMs ?? 5000;
  const stopOnFailure = options.stopOnFailure ?? true;
  const results: SeedResult[] = [];
  const total = emptyStats();

  const runSeed = async (seed: number, fixed: boolean, path?: string): Promise<SeedResult> => {
    const seedStarted = Date.now();
    const stats = emptyStats();
    let runs = 0;
    const result: SeedResult = { seed, fixed, runs: 0, failed: false, durationMs: 0, stats };
    log(`seed ${seed}${fixed ? " (fixed)" : ""}${path ? ` path ${path}` : ""}: ${runsPerSeed} runs`);
    // The kind of the seed's first failure, and the other kinds met while shrinking it.
    let kind: string | undefined;
    const others = new Map<string, number>();
    // Runs one at a time, and none left running when the seed ends: when its
    // time limit interrupts a seed, fast-check stops waiting for the run in
    // flight, which must not then share the server with the next seed's runs.
    let inFlight: Promise<unknown> = Promise.resolve();
    const property = fc.asyncProperty(arbitrary, (batch) => {
      const run = inFlight.then(() => runBatch(batch));
      inFlight = run.catch(() => {});
      return run;
    });
    const runBatch = async (batch: Batch): Promise<void> => {
      runs++;
      const target = await server.ensure();
      try {
        const sent = await sendBatch(target, batch, sequenceTimeoutMs);
        addStats(stats, sent);
        addStats(total, sent);
        // While shrinking a crash or a health failure, a resource finding
        // would count as a pass anyway: skip its (up to settleMs) wait.
        await server.check(target, { resources: kind === undefined || kind.startsWith("resources") });
      } catch (err) {
        await server.kill();
        const k = err instanceof CheckFailure ? err.kind : "error";
        kind ??= k;
        if (k !== kind) {
          others.set(k, (others.get(k) ?? 0) + 1);
          return;
        }
        throw err;
      }
    };
    try {
      await fc.assert(property, {
        seed,
        ...(path ? { path } : {}),
        numRuns: runsPerSeed,
        // Our own deadlines bound a run well below this; it only guards against a hang.
        timeout: 120_000,
        plugins: [fc.interruptAfterTimeLimit(seedTimeLimitMs)],
        asyncReporter: async (details: RunDetails<[Batch]>) => {
          if (!details.failed) return;
          const error =
            details.errorInstance instanceof Error
              ? details.errorInstance.message
              : String(details.errorInstance);
          const report = fc.defaultReportMessage(details) ?? "";
          const message = [
            `wire-fuzz: seed ${seed} failed`,
            shortenRuns(report),
            report.includes(error) ? "" : `\nGot error: ${error}`,
            details.interrupted
              ? "\n(shrinking was cut short by the time limit: the counterexample may shrink further)"
              : "",
            `\nFinding: ${kind}` +
              (others.size
                ? `; other findings met while shrinking (counted as passes there): ${[...others].map(([k, n]) => `${k} (${n}×)`).join(", ")}`
                : ""),
            `\nReplay: ${replayCommand(details.seed, details.counterexamplePath ?? "")}`,
          ].join("\n");
          throw new FuzzFailure(message, details.seed, details.counterexamplePath ?? "");
        },
      });
    } catch (err) {
      await inFlight;
      result.failed = true;
      if (err instanceof FuzzFailure) {
        result.report = err.message;
        result.counterexamplePath = err.path;
        if (kind !== undefined) result.kind = kind;
      } else {
        result.report = `wire-fuzz: seed ${seed}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      }
    }
    await inFlight;
    result.runs = runs;
    result.durationMs = Date.now() - seedStarted;
    log(
      `seed ${seed}: ${result.failed ? "FAILED" : "ok"} after ${runs} runs, ${stats.sequences} sequences, ` +
        `${stats.frames} frames/requests, ${(stats.bytesSent / 1024).toFixed(0)} KiB sent in ${(result.durationMs / 1000).toFixed(1)} s`,
    );
    if (result.report) log(result.report);
    return result;
  };

  try {
    if (options.replay) {
      results.push(await runSeed(options.replay.seed, true, options.replay.path));
    } else {
      const fixed = options.seeds ?? [];
      const fresh = options.freshSeeds ?? (fixed.length === 0 && options.seconds === undefined ? 1 : 0);
      const done = () => stopOnFailure && results.some((r) => r.failed);
      for (const seed of fixed) {
        if (done()) break;
        results.push(await runSeed(seed, true));
      }
      for (let i = 0; i < fresh && !done(); i++) results.push(await runSeed(freshSeed(), false));
      if (options.seconds !== undefined) {
        const deadline = started + options.seconds * 1000;
        while (Date.now() < deadline && !done()) results.push(await runSeed(freshSeed(), false));
      }
    }
  } finally {
    await server.stop();
  }
  return {
    results,
    failures: results.filter((r) => r.failed),
    stats: total,
    runs: results.reduce((n, r) => n + r.runs, 0),
    spawns: server.spawns,
    durationMs: Date.now() - started,
    peak: server.peak,
    gcRescues: server.gcRescues,
  };
}

/** A few lines for the end of a run: seeds, counts, time, failures. */
export function formatSummary(summary: FuzzSummary): string {
  const s = summary.stats;
  const lines = [
    `wire-fuzz summary: ${summary.results.length} seed(s) [${summary.results.map((r) => `${r.seed}${r.failed ? " FAILED" : ""}`).join(", ")}]`,
    `  ${summary.runs} runs, ${s.sequences} sequences, ${s.frames} frames/requests, ` +
      `${(s.bytesSent / 1024).toFixed(0)} KiB sent, ${(s.bytesReceived / 1024).toFixed(0)} KiB received`,
    `  ${summary.spawns} server process(es) started, ${(summary.durationMs / 1000).toFixed(1)} s` +
      (summary.peak
        ? `, peak after a batch: RSS ${(summary.peak.rssBytes / 1024 / 1024).toFixed(0)} MiB, ${summary.peak.fds} fds`
        : "") +
      (summary.gcRescues > 0
        ? `; ${summary.gcRescues} batch(es) back within tolerance only after a full GC`
        : ""),
    summary.failures.length === 0
      ? "  no failure"
      : `  ${summary.failures.length} failing seed(s): ${summary.failures.map((f) => `${f.seed} (${f.kind ?? "error"})`).join(", ")}`,
  ];
  return lines.join("\n");
}

/**
 * The value fast-check generates for `seed` at counterexample `path` (what
 * a failure report's replay runs first), without running anything: to
 * inspect a counterexample or send it by hand.
 */
export function valueAt<T>(seed: number, path: string, arbitrary: Arbitrary<T>): T {
  let value: { v: T } | undefined;
  try {
    fc.assert(
      fc.property(arbitrary, (v) => {
        value ??= { v };
        return false;
      }),
      { seed, path, endOnFailure: true },
    );
  } catch {
    // the property fails on purpose: the first value is the one at `path`
  }
  if (!value) throw new Error(`no value at seed ${seed}, path ${path}`);
  return value.v;
}
