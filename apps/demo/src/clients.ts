import type { ChildProcess } from "node:child_process";
import { ClientRun, type Exit } from "./client-run.js";
import type { Transcript } from "./transcript.js";

/** The rng-client processes the demo runs: started with their command line printed, stopped on request or abort. */
export class DemoClients {
  private readonly runs = new Set<ClientRun>();

  /**
   * @param track registers each client's process, so the demo's final check covers it.
   * @param signal aborts the demo: waits for a client's exit reject.
   */
  constructor(
    private readonly out: Transcript,
    private readonly track: (what: string, child: ChildProcess) => void,
    private readonly signal: AbortSignal,
  ) {}

  /** Starts rng-client with `args`; its calls and DNS events go to the transcript. */
  start(args: string[]): ClientRun {
    const { out } = this;
    const run = new ClientRun(args, { onCall: out.showCall, onStderr: out.showClientStderr });
    this.runs.add(run);
    this.track(`rng-client ${args.join(" ")}`, run.child);
    out.say(`  ${out.style.bold("$")} rng-client ${args.join(" ")}   ${out.style.dim(`(pid ${run.pid})`)}`);
    return run;
  }

  /** Waits for a client's exit (SIGINT first if `interrupt`), or kills it on abort. */
  async stop(run: ClientRun, interrupt = true): Promise<Exit> {
    const { signal } = this;
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(signal.reason);
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      void run.exited.then(() => signal.removeEventListener("abort", onAbort));
    });
    aborted.catch(() => undefined);
    const exit = await Promise.race([interrupt ? run.stop() : run.exited, aborted]);
    this.runs.delete(run);
    return exit;
  }

  /** Stops every client still running (SIGINT, then SIGKILL after `killAfterMs`). */
  async stopAll(killAfterMs: number): Promise<void> {
    await Promise.all([...this.runs].map((c) => c.stop(killAfterMs)));
    this.runs.clear();
  }
}
