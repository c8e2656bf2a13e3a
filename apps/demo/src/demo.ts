import type { ChildProcess } from "node:child_process";
import type { RngFleet, RngServerProcess } from "@rngbalance/rng-fleet";
import { ChildProcesses } from "./child-processes.js";
import type { ClientRun, Exit } from "./client-run.js";
import { DemoClients } from "./clients.js";
import { setUpFleet } from "./fleet-setup.js";
import { type Pace, paceFor } from "./pace.js";
import { policyContrastPhase } from "./phase-policy-contrast.js";
import { roundRobinPhase } from "./phase-round-robin.js";
import { scaleDownPhase } from "./phase-scale-down.js";
import { scaleUpPhase } from "./phase-scale-up.js";
import { slowPodPhase } from "./phase-slow-pod.js";
import { PodRegistry } from "./pods.js";
import { removePod, scaleTo } from "./scaling.js";
import type { Stage } from "./stage.js";
import type { Style } from "./style.js";
import { formatTable, type PhaseResult } from "./table.js";
import { Transcript } from "./transcript.js";

export { PICKUP_LIMIT_MS, SHUTDOWN_DELAY_MS } from "./pace.js";

/** Options of {@link Demo}. */
export interface DemoOptions {
  readonly fast: boolean;
  readonly style: Style;
  /** Writes one line of output. */
  readonly write: (line: string) => void;
  /** Aborts the demo (Ctrl-C): waits reject, cleanup still runs. */
  readonly signal: AbortSignal;
}

/**
 * The scripted demo: a LocalFleet, the real rng-client as a child process,
 * scale up, scale down, and the contrast with pick_first and passthrough.
 * Every process it starts is in {@link pids} and stopped by {@link close}.
 */
export class Demo {
  private fleet: RngFleet | undefined;
  private readonly children = new ChildProcesses();
  private readonly track = (what: string, child: ChildProcess): void => this.children.track(what, child);
  private readonly pods = new PodRegistry(this.track);
  private readonly out: Transcript;
  private readonly clients: DemoClients;
  /** The rows of the final table. */
  readonly results: PhaseResult[] = [];
  private readonly pace: Pace;

  constructor(private readonly o: DemoOptions) {
    this.pace = paceFor(o.fast);
    this.out = new Transcript(o.style, o.write, (address) => this.pods.get(address));
    this.clients = new DemoClients(this.out, this.track, o.signal);
  }

  /** Starts the fleet: the DNS server and 3 pods. */
  async setUp(): Promise<RngFleet> {
    this.fleet = await setUpFleet(this.out, this.pods);
    return this.fleet;
  }

  /** The scripted phases 1 to 5. */
  async run(): Promise<void> {
    const stage = this.stage(this.fleet ?? (await this.setUp()));
    const client = await roundRobinPhase(stage);
    await scaleUpPhase(stage, client);
    await scaleDownPhase(stage, client);
    await policyContrastPhase(stage);
    await slowPodPhase(stage);
  }

  private stage(fleet: RngFleet): Stage {
    const { out, pods, clients, pace, results, track } = this;
    return { fleet, pods, clients, out, pace, signal: this.o.signal, results, track };
  }

  /** Adds pods until `replicas` run, or removes the newest (DNS first, then SIGTERM). */
  async scaleTo(replicas: number): Promise<void> {
    await scaleTo(this.stage(this.fleet!), replicas);
  }

  /** Takes one pod out: DNS first, then SIGTERM, or SIGKILL (a crash) with `kill`. */
  async removePod(server: RngServerProcess, kill: boolean): Promise<void> {
    await removePod(this.stage(this.fleet!), server, kill);
  }

  /** The fleet, once set up. */
  get localFleet(): RngFleet | undefined {
    return this.fleet;
  }

  /** Starts a long-running client for interactive use. */
  startInteractiveClient(): ClientRun {
    return this.clients.start([
      "--target",
      this.fleet!.target,
      "--interval",
      this.pace.interval,
      "--verbose",
    ]);
  }

  /** Stops a client started with {@link startInteractiveClient}, printing its summary. */
  async finishClient(run: ClientRun): Promise<Exit> {
    const exit = await this.clients.stop(run);
    this.out.quote(run.summary);
    return exit;
  }

  /**
   * Stops every client (SIGINT, then SIGKILL) and the fleet (SIGTERM
   * every pod, close DNS), then checks that no child process is left.
   * Returns the pids that are still running (none, normally).
   */
  async close(): Promise<number[]> {
    await this.clients.stopAll(3000);
    if (this.fleet) {
      const fleet = this.fleet;
      await Promise.race([fleet.close(), new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
      // Whatever did not drain in time is killed.
      for (const s of fleet.servers) s.child.kill("SIGKILL");
    }
    return this.running();
  }

  /** The pid of every child process started, in order. */
  get pids(): number[] {
    return this.children.pids;
  }

  /** Pids of the child processes that have not exited (never a pid reused since). */
  running(): number[] {
    return this.children.running();
  }

  /** SIGKILLs every child process still running: the last resort, synchronous. */
  killAll(): void {
    this.children.killAll(this.fleet?.servers.map((s) => s.child) ?? []);
  }

  /** The final table. */
  table(): string {
    const { style } = this.o;
    return formatTable(this.results, (ok) => (ok ? style.green("✓") : style.red("✗")));
  }
}
