import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "@rngbalance/testkit";

/** Path of a built entry point next to this file, e.g. "client-child.js". */
export function entry(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/**
 * The child side of {@link runJsonChild}: prints what `work` resolves to as
 * one JSON line and exits 0 (not waiting for lingering handles such as
 * grpc-js timers or half-closed sockets), or prints the error and exits 1.
 */
export function reportJsonResult(work: Promise<unknown>): void {
  work.then(
    (result) => {
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

/** A node child that runs to completion and reports one JSON line on stdout. */
export interface JsonRun<T> {
  readonly value: T;
  readonly pid: number;
}

/**
 * Runs `node [nodeArgs] <script> [args]` and parses the last stdout line as
 * JSON; `onLine` sees every line as it comes. Rejects with its stderr on a non-zero exit or after `timeoutMs`.
 */
export async function runJsonChild<T>(
  script: string,
  args: readonly string[],
  {
    nodeArgs = [],
    timeoutMs = 60_000,
    onLine,
  }: { nodeArgs?: readonly string[]; timeoutMs?: number; onLine?: (line: string) => void } = {},
): Promise<JsonRun<T>> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: childProcessEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let seen = 0;
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    out += c;
    if (!onLine) return;
    for (let nl = out.indexOf("\n", seen); nl >= 0; nl = out.indexOf("\n", seen)) {
      onLine(out.slice(seen, nl));
      seen = nl + 1;
    }
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code, signal] = (await once(child, "close")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (code !== 0) {
    throw new Error(
      `${script} ${args.join(" ").slice(0, 200)} exited with ${code ?? signal}${signal === "SIGKILL" ? ` (timeout ${timeoutMs} ms?)` : ""}: ${err.trim().slice(-2000)}`,
    );
  }
  const last = out.trim().split("\n").pop() ?? "";
  try {
    return { value: JSON.parse(last) as T, pid: child.pid ?? 0 };
  } catch {
    throw new Error(`${script} printed no JSON result: ${out.slice(-500)} ${err.slice(-500)}`);
  }
}

/** A long-running node child that printed a first JSON line (e.g. "listening"). */
export interface ServiceChild<T> {
  readonly child: ChildProcess;
  readonly first: T;
  stop(): Promise<void>;
}

/** Starts a node child and waits for its first stdout line, parsed as JSON. */
export async function startServiceChild<T>(
  script: string,
  args: readonly string[],
  {
    nodeArgs = [],
    timeoutMs = 15_000,
    isFirst = () => true,
  }: {
    nodeArgs?: readonly string[];
    timeoutMs?: number;
    /** Which stdout line is `first` (default: the first line); lines before it are skipped. */
    isFirst?: (line: T) => boolean;
  } = {},
): Promise<ServiceChild<T>> {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
    env: childProcessEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = once(child, "exit");
  let err = "";
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    err += c;
  });
  let out = "";
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = await Promise.race([
      new Promise<T>((resolve, reject) => {
        child.stdout.setEncoding("utf8").on("data", function onData(c: string) {
          out += c;
          for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
            let line: T;
            try {
              line = JSON.parse(out.slice(0, nl)) as T;
            } catch (e) {
              child.stdout.off("data", onData);
              reject(e);
              return;
            }
            out = out.slice(nl + 1);
            if (!isFirst(line)) continue;
            child.stdout.off("data", onData);
            child.stdout.resume();
            resolve(line);
            return;
          }
        });
      }),
      exited.then(([code, signal]) => {
        throw new Error(`${script} exited (${code ?? signal}) before starting: ${err.trim()}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${script} did not start within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    return {
      child,
      first,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      },
    };
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** User + system CPU time of a process so far, in µs (Linux /proc; 0 elsewhere). */
export function processCpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the "(comm)" part; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000_000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Resident set size of a process now, in MB (Linux /proc; NaN elsewhere). */
export function processRssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

/** CPU time the whole machine spent busy so far (every core, every process; hypervisor steal included), in µs (Linux /proc; 0 elsewhere). */
export function machineBusyUs(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal ... Interrupts are
    // left out: on loopback they are mostly the benchmark's own traffic.
    const [, user, nice, system, , , , , steal] = line.trim().split(/\s+/).map(Number);
    const ticks = (user ?? 0) + (nice ?? 0) + (system ?? 0) + (steal ?? 0);
    return (ticks * 1_000_000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** USER_HZ; 100 on every Linux that matters. */
const CLOCK_TICKS = 100;
