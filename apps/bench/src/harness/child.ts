/**
 * Child processes of the bench, and the one way they take their arguments.
 *
 * Every entry point of the bench's own is named `*.child.ts` and takes ONE
 * argument: a JSON object, written by {@link runChild} / {@link startChild}
 * on the parent side and read by {@link childArgs} on the child side, which
 * checks each field's type against a spec and exits 2 naming what is wrong.
 * A child that computes something prints it as its last stdout line
 * ({@link reportResult}); a child that serves (a server, the farm) prints one
 * JSON line once it listens and runs until SIGTERM. Commands that are not the
 * bench's (the real `rng-server`) take their own flags ({@link startCommand}).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "@rngbalance/testkit";

/** The file name of a child entry point, as built: `<name>.child.js`. */
export type ChildFile = `${string}.child.js`;

/**
 * Path of a built child entry point relative to a module:
 * `childPath(import.meta.url, "client.child.js")`.
 */
export function childPath(base: string, file: ChildFile): string {
  return fileURLToPath(new URL(`./${file}`, base));
}

/** What a field of a child's argument must be; a trailing "?" lets it be absent. */
export type ArgKind =
  | "string"
  | "number"
  | "boolean"
  | "array"
  | "object"
  | "string?"
  | "number?"
  | "boolean?"
  | "array?"
  | "object?";

/** Every field of `T` and what it must be. */
export type ArgSpec<T> = { readonly [K in keyof T]-?: ArgKind };

/** Why `value` does not fit `spec`, or undefined when it does. */
export function argProblem(value: unknown, spec: Readonly<Record<string, ArgKind>>): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "must be a JSON object";
  const record = value as Record<string, unknown>;
  for (const [field, kind] of Object.entries(spec)) {
    const optional = kind.endsWith("?");
    const want = optional ? kind.slice(0, -1) : kind;
    const v = record[field];
    if (v === undefined) {
      if (optional) continue;
      return `has no "${field}" (${want})`;
    }
    const got = Array.isArray(v) ? "array" : v === null ? "null" : typeof v;
    if (got !== want) return `field "${field}" must be ${want}, got ${got}`;
  }
  const unknown = Object.keys(record).filter((k) => !(k in spec));
  return unknown.length > 0 ? `has unknown fields ${unknown.join(", ")}` : undefined;
}

/**
 * The child side: this process's one argument (argv[2]), parsed as JSON and
 * checked against `spec`. On a bad argument, writes what is wrong to stderr
 * and exits 2.
 */
export function childArgs<T>(spec: ArgSpec<T>): T {
  const script = process.argv[1] ?? "child";
  const text = process.argv[2];
  let problem: string | undefined;
  let value: unknown;
  if (text === undefined || process.argv.length !== 3) {
    problem = `takes exactly one argument, a JSON object; got ${process.argv.length - 2}`;
  } else {
    try {
      value = JSON.parse(text);
      const wrong = argProblem(value, spec as Record<string, ArgKind>);
      if (wrong !== undefined) problem = `its argument ${wrong}`;
    } catch (err) {
      problem = `its argument is not JSON: ${(err as Error).message}`;
    }
  }
  if (problem !== undefined) {
    process.stderr.write(`${script}: ${problem}\n`);
    process.exit(2);
  }
  return value as T;
}

/**
 * The child side of {@link runChild}: prints what `work` resolves to as
 * one JSON line and exits 0 (not waiting for lingering handles such as
 * grpc-js timers or half-closed sockets), or prints the error and exits 1.
 */
export function reportResult(work: Promise<unknown>): void {
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

/** Options of {@link runChild}. */
export interface RunChildOptions {
  /** Flags for node itself, e.g. `--expose-gc`, `--cpu-prof`. Default none. */
  readonly nodeArgs?: readonly string[];
  /** The child is killed (and the run rejected) after this long. Default 60 000 ms. */
  readonly timeoutMs?: number;
  /** Sees every stdout line as it comes (e.g. a cell's start and stop events). Default none. */
  readonly onLine?: (line: string) => void;
}

/**
 * Runs the child entry point `script` (see {@link childPath}) with `args` as
 * its one JSON argument, and parses its last stdout line as JSON. Rejects
 * with its stderr on a non-zero exit or after `timeoutMs`.
 */
export function runChild<T>(
  script: string,
  args: object,
  options: RunChildOptions = {},
): Promise<JsonRun<T>> {
  return runNode<T>(script, [JSON.stringify(args)], options);
}

async function runNode<T>(
  script: string,
  args: readonly string[],
  { nodeArgs = [], timeoutMs = 60_000, onLine }: RunChildOptions = {},
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

/** Options of {@link startChild} and {@link startCommand}. */
export interface StartChildOptions<T> {
  /** Flags for node itself, e.g. `--cpu-prof`. Default none. */
  readonly nodeArgs?: readonly string[];
  /** Rejects when the first line has not come within this long. Default 15 000 ms. */
  readonly timeoutMs?: number;
  /** Which stdout line is `first`; lines before it are skipped. Default: the first line. */
  readonly isFirst?: (line: T) => boolean;
}

/**
 * Starts the long-running child entry point `script` (see {@link childPath})
 * with `args` as its one JSON argument, and waits for its first stdout line,
 * parsed as JSON (e.g. "listening").
 */
export function startChild<T>(
  script: string,
  args: object,
  options: StartChildOptions<T> = {},
): Promise<ServiceChild<T>> {
  return startCommand<T>(script, [JSON.stringify(args)], options);
}

/**
 * Starts a node program that is not one of the bench's children (the real
 * `rng-server` command) with its own flags, and waits for its first stdout
 * line, parsed as JSON.
 */
export async function startCommand<T>(
  script: string,
  args: readonly string[],
  { nodeArgs = [], timeoutMs = 15_000, isFirst = () => true }: StartChildOptions<T> = {},
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
