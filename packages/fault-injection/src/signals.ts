import { cleanupOnExit } from "./command.js";

/** A process stopped by {@link freezeProcess}. */
export interface FrozenProcess {
  /** The stopped pid. */
  readonly pid: number;
  /** Continues it (SIGCONT). Idempotent; a process that exited meanwhile is not an error. */
  resume(): void;
}

/**
 * Stops a process with SIGSTOP: a hung pod. The kernel keeps accepting TCP
 * connections into its backlog and ACKing data for it, but nothing answers:
 * the failure a client cannot see on the wire. Continued by
 * {@link FrozenProcess.resume}, and at the latest when this process exits
 * (a stopped child would otherwise outlive the run).
 *
 * @throws TypeError for a pid that is not a positive integer; the kill error
 *   (ESRCH) when no such process exists.
 */
export function freezeProcess(pid: number): FrozenProcess {
  if (!Number.isInteger(pid) || pid <= 0)
    throw new TypeError(`freezeProcess: pid must be a positive integer, got ${pid}`);
  process.kill(pid, "SIGSTOP");
  const cont = () => {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // It exited meanwhile: nothing to continue.
    }
  };
  const release = cleanupOnExit(cont);
  let resumed = false;
  return {
    pid,
    resume() {
      if (resumed) return;
      resumed = true;
      cont();
      release();
    },
  };
}
