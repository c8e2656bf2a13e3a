import type { ChildProcess } from "node:child_process";

/** Every child process the demo starts, with what it is, in order: for the final check and the last resort kill. */
export class ChildProcesses {
  private readonly children: { what: string; child: ChildProcess }[] = [];

  /** Registers a child process. */
  track(what: string, child: ChildProcess): void {
    this.children.push({ what, child });
  }

  /** The pid of every child process started, in order. */
  get pids(): number[] {
    return this.children.map((c) => c.child.pid ?? -1);
  }

  /** Pids of the child processes that have not exited (never a pid reused since). */
  running(): number[] {
    return this.children
      .filter(({ child }) => child.exitCode === null && child.signalCode === null)
      .map(({ child }) => child.pid ?? -1);
  }

  /** SIGKILLs every child process still running, and any of `more`: synchronous. */
  killAll(more: readonly ChildProcess[] = []): void {
    const all = [...this.children.map((c) => c.child), ...more];
    for (const child of all) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }
}
