import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { childProcessEnv } from "@rngbalance/testkit";

/** The built `rng-client` entry point, found through the workspace dependency. */
export const CLIENT_MAIN = fileURLToPath(import.meta.resolve("@rngbalance/client/main"));

/** One call as `rng-client` printed it. */
export interface ObservedCall {
  /** When the demo read the line (Date.now()). */
  readonly at: number;
  /** "OK" or a gRPC code name. */
  readonly code: string;
  readonly rn: string | undefined;
  readonly address: string | undefined;
  /** The line as printed. */
  readonly line: string;
}

const REQUEST = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d request (\d+) from (\S+) \(/;
const ERROR = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d error ([A-Z_0-9]+)(?: from (\S+))? \(/;

/**
 * Parses one line of `rng-client` text output into a call; `undefined` for
 * any other line (blank lines, the summary).
 */
export function parseCallLine(line: string, at: number): ObservedCall | undefined {
  const ok = REQUEST.exec(line);
  if (ok) return { at, code: "OK", rn: ok[1], address: ok[2], line };
  const err = ERROR.exec(line);
  if (err) return { at, code: err[1]!, rn: undefined, address: err[2], line };
  return undefined;
}

/** Callbacks of a {@link ClientRun}. */
export interface ClientRunHandlers {
  onCall?(call: ObservedCall): void;
  /** A `--verbose` line of the client's stderr. */
  onStderr?(line: string): void;
}

/** How a process ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * The real `rng-client` as a child process, its output parsed line by line
 * into calls; the summary it prints at the end is kept as text.
 */
export class ClientRun {
  readonly child: ChildProcess;
  /** Every call so far. */
  readonly calls: ObservedCall[] = [];
  /** The summary block (after "summary:"), once printed. */
  readonly summary: string[] = [];
  /** Where the client serves /metrics (with --metrics-addr), from its stderr. */
  metricsUrl: string | undefined;
  /** Settles when the process has exited and its output is read. */
  readonly exited: Promise<Exit>;
  private readonly waiters = new Set<() => void>();
  private ended = false;

  constructor(
    readonly args: readonly string[],
    private readonly handlers: ClientRunHandlers = {},
  ) {
    this.child = spawn(process.execPath, [CLIENT_MAIN, ...args], {
      env: childProcessEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.exited = once(this.child, "close").then(([code, signal]) => {
      this.ended = true;
      for (const w of this.waiters) w();
      return { code, signal } as Exit;
    });
    this.exited.catch(() => undefined);
    lines(this.child.stdout, (line) => this.onStdout(line));
    lines(this.child.stderr, (line) => {
      const metrics = /^rng-client: metrics at (http:\/\/\S+)$/.exec(line);
      if (metrics) this.metricsUrl = metrics[1];
      this.handlers.onStderr?.(line);
    });
  }

  /** The child's pid. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** True once the process has exited. */
  get done(): boolean {
    return this.ended;
  }

  private onStdout(line: string): void {
    if (this.summary.length > 0 || line.startsWith("summary:")) {
      this.summary.push(line);
      for (const w of this.waiters) w();
      return;
    }
    const call = parseCallLine(line, Date.now());
    if (!call) return;
    this.calls.push(call);
    this.handlers.onCall?.(call);
    for (const w of this.waiters) w();
  }

  /**
   * Resolves true once `condition()` holds (checked after every call),
   * false after `timeoutMs` or if the client exits first; rejects when
   * `signal` aborts.
   */
  waitFor(condition: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const check = () => {
        if (condition()) settle(() => resolve(true));
        else if (this.ended) settle(() => resolve(false));
      };
      const onAbort = () => settle(() => reject(signal?.reason));
      const timer = setTimeout(() => settle(() => resolve(false)), timeoutMs);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort);
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for `n` more calls than there are now. */
  waitForCalls(n: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const target = this.calls.length + n;
    return this.waitFor(() => this.calls.length >= target, timeoutMs, signal);
  }

  /**
   * Sends SIGINT (Ctrl-C): no new calls; the client prints its summary and,
   * with --metrics-linger, keeps serving /metrics. Resolves true once the
   * summary's total line is out, false if it exits or `timeoutMs` passes first.
   */
  interrupt(timeoutMs: number): Promise<boolean> {
    if (!this.ended) this.child.kill("SIGINT");
    return this.waitFor(() => this.summary.some((l) => l.startsWith("total")), timeoutMs);
  }

  /**
   * Stops the client as Ctrl-C would (SIGINT: it prints its summary and
   * exits), or kills it if it takes longer than `graceMs`.
   */
  async stop(graceMs = 5000): Promise<Exit> {
    if (!this.ended) this.child.kill("SIGINT");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let buffered = "";
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      onLine(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
    }
  });
  stream.on("end", () => {
    if (buffered) onLine(buffered);
  });
}
