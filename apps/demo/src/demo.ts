import type { ChildProcess } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { type RngFleet, type RngServerProcess, startRngFleet } from "@rngbalance/rng-server/testing";
import { ClientRun, type Exit, type ObservedCall } from "./client-run.js";
import { formatPickRows, pickRows, picksPerEndpoint } from "./metrics.js";
import { slowPodPhase } from "./slow-pod.js";
import type { Style } from "./style.js";
import { formatTable, type PhaseResult, seconds } from "./table.js";

/** Options of {@link Demo}. */
export interface DemoOptions {
  readonly fast: boolean;
  readonly style: Style;
  /** Writes one line of output. */
  readonly write: (line: string) => void;
  /** Aborts the demo (Ctrl-C): waits reject, cleanup still runs. */
  readonly signal: AbortSignal;
}

/** Pace of the demo: watchable by default, quick with --fast. */
interface Pace {
  readonly interval: string;
  /** Calls in phase 1. */
  readonly phase1: number;
  /** Calls after the last new pod got its first call. */
  readonly afterPickup: number;
  /** Calls after the removed pods have exited. */
  readonly afterDrain: number;
  /** Calls of each short run of phase 4. */
  readonly contrast: number;
}

const NORMAL: Pace = { interval: "200ms", phase1: 12, afterPickup: 10, afterDrain: 6, contrast: 9 };
const FAST: Pace = { interval: "20ms", phase1: 9, afterPickup: 10, afterDrain: 6, contrast: 6 };

/**
 * After SIGTERM, a pod keeps serving this long while reporting NOT_SERVING
 * to health checks, before it sends GOAWAY: what a preStop hook gives a
 * Kubernetes pod, so clients stop picking it before it closes.
 */
export const SHUTDOWN_DELAY_MS = 1000;

/** New pods must get calls within this, or the phase fails. */
export const PICKUP_LIMIT_MS = 3000;
/** How long any wait for calls may take before the demo gives up on it. */
const WAIT_MS = 15_000;

interface Pod {
  readonly n: number;
  readonly label: string;
  readonly server: RngServerProcess;
}

/**
 * The scripted demo: a LocalFleet, the real rng-client as a child process,
 * scale up, scale down, and the contrast with pick_first and passthrough.
 * Every process it starts is in {@link pids} and stopped by {@link close}.
 */
export class Demo {
  private fleet: RngFleet | undefined;
  private readonly pods = new Map<string, Pod>();
  private readonly clients = new Set<ClientRun>();
  /** Every child process started, with what it is. */
  private readonly children: { what: string; child: ChildProcess }[] = [];
  /** The rows of the final table. */
  readonly results: PhaseResult[] = [];
  private readonly pace: Pace;

  constructor(private readonly o: DemoOptions) {
    this.pace = o.fast ? FAST : NORMAL;
  }

  private say(line = ""): void {
    this.o.write(line);
  }

  private heading(text: string): void {
    this.say();
    this.say(this.o.style.bold(`▶ ${text}`));
  }

  private explain(text: string): void {
    for (const line of text.split("\n")) this.say(this.o.style.dim(`  ${line}`));
  }

  private check(ok: boolean, text: string): void {
    const { style } = this.o;
    this.say(`  ${ok ? style.green("✓") : style.red("✗")} ${text}`);
  }

  private podLabel(address: string | undefined): string {
    const pod = address === undefined ? undefined : this.pods.get(address);
    if (!pod) return "?".padEnd(6);
    return this.o.style.pod(pod.n, pod.label.padEnd(6));
  }

  private showCall = (call: ObservedCall): void => {
    const text = call.code === "OK" ? call.line : this.o.style.red(call.line);
    this.say(`  ${this.podLabel(call.address)} │ ${text}`);
  };

  private showClientStderr = (line: string): void => {
    // Of the --verbose events, show only what DNS says: the pool's view of the Service.
    const m = /^rng-client: (resolved .*|resolution failed.*)$/.exec(line);
    if (m) this.say(this.o.style.dim(`  ${"dns".padEnd(6)} │ pool ${m[1]}`));
    else if (!line.startsWith("rng-client: ")) this.say(this.o.style.red(`  client │ ${line}`));
  };

  private register(server: RngServerProcess): Pod {
    const n = this.pods.size + 1;
    const pod = { n, label: `pod-${n}`, server };
    this.pods.set(server.address, pod);
    this.children.push({ what: `${pod.label} ${server.address}`, child: server.child });
    return pod;
  }

  private describePod(pod: Pod, what: string): string {
    const s = pod.server;
    const label = this.o.style.pod(pod.n, pod.label.padEnd(6));
    const line = `${s.address.padEnd(17)} pid ${String(s.child.pid).padEnd(7)} rn ${String(s.rn).padEnd(19)}  ${what}`;
    return `  ${label}   ${line.trimEnd()}`;
  }

  private startClient(args: string[]): ClientRun {
    const run = new ClientRun(args, { onCall: this.showCall, onStderr: this.showClientStderr });
    this.clients.add(run);
    this.children.push({ what: `rng-client ${args.join(" ")}`, child: run.child });
    this.say(
      `  ${this.o.style.bold("$")} rng-client ${args.join(" ")}   ${this.o.style.dim(`(pid ${run.pid})`)}`,
    );
    return run;
  }

  private async must(wait: Promise<boolean>, what: string): Promise<boolean> {
    const ok = await wait;
    if (!ok) this.check(false, `gave up waiting for ${what}`);
    return ok;
  }

  /** Starts the fleet: the DNS server and 3 pods. */
  async setUp(): Promise<RngFleet> {
    const { style } = this.o;
    this.say(style.bold("rngbalance demo: client-side DNS load balancing on one machine"));
    this.explain(
      "An embedded DNS server plays kube-dns for the headless Service rng-headless; rng-server\n" +
        "processes play its pods on 127.0.0.2, .3, ... (Linux routes all of 127/8 to loopback).",
    );
    this.heading("Setting up: kube-dns and 3 pods");
    this.explain(
      `DNS records have a TTL of 1 s. On SIGTERM a pod serves ${SHUTDOWN_DELAY_MS / 1000} s more while health checks\n` +
        "say NOT_SERVING (a preStop delay), then sends GOAWAY and finishes the calls in flight.",
    );
    const fleet = await startRngFleet({
      replicas: 3,
      ttlSeconds: 1,
      serverArgs: ["--shutdown-delay-ms", String(SHUTDOWN_DELAY_MS)],
    });
    this.fleet = fleet;
    const servers = [...fleet.servers].sort((a, b) => a.host.localeCompare(b.host, "en", { numeric: true }));
    this.say(
      `  ${"dns".padEnd(6)}   ${fleet.dns.address.padEnd(17)} in this process, answers for ${fleet.name}`,
    );
    for (const s of servers) this.say(this.describePod(this.register(s), ""));
    this.say(`  target   ${style.bold(fleet.target)}`);
    return fleet;
  }

  /** The scripted phases 1 to 4. */
  async run(): Promise<void> {
    const fleet = this.fleet ?? (await this.setUp());
    const { signal } = this.o;
    const p = this.pace;

    // Phase 1.
    this.heading("Phase 1: round_robin over 3 pods");
    this.explain(
      "rng-client resolves the name through DNS, keeps one HTTP/2 connection per pod and\n" +
        "rotates calls over them. Each pod answers with its own number.",
    );
    // It serves its metrics too: the demo reads the per-pod counts there at the end of phase 3.
    const client = this.startClient([
      "--target",
      fleet.target,
      "--interval",
      p.interval,
      "--verbose",
      "--metrics-addr",
      "127.0.0.1:0",
      "--metrics-linger",
      "30s",
    ]);
    await this.must(client.waitForCalls(p.phase1, WAIT_MS, signal), `${p.phase1} calls`);
    const phase1 = client.calls.slice(0);
    const distinct1 = distinct(phase1);
    this.check(
      distinct1 === 3 && errors(phase1) === 0,
      `${phase1.length} calls, ${distinct1} pods, ${errors(phase1)} errors`,
    );
    this.results.push({
      phase: "1. round_robin, 3 pods",
      calls: phase1.length,
      instances: distinct1,
      errors: errors(phase1),
      note: "",
      ok: distinct1 === 3 && errors(phase1) === 0,
    });

    // Phase 2.
    this.heading("Phase 2: scale 3 → 5");
    this.explain(
      "Two new pods start; each enters DNS once it listens (as an EndpointSlice update would).\n" +
        "The records have a TTL of 1 s, so the client asks DNS again every second.",
    );
    const start2 = client.calls.length;
    const joined = new Map<string, number>();
    const added = await Promise.all(
      [0, 1].map(async () => {
        const server = await fleet.addServer();
        joined.set(server.address, Date.now());
        const pod = this.register(server);
        this.say(this.describePod(pod, "now in DNS"));
        return pod;
      }),
    );
    const firstCall = (address: string) => client.calls.slice(start2).find((c) => c.address === address);
    const pickedUp = await this.must(
      client.waitFor(() => added.every((pod) => firstCall(pod.server.address)), WAIT_MS, signal),
      "calls to the new pods",
    );
    const pickups = added.map((pod) => {
      const call = firstCall(pod.server.address);
      return { pod, ms: call ? call.at - joined.get(pod.server.address)! : undefined };
    });
    for (const { pod, ms } of pickups) {
      this.check(
        ms !== undefined && ms <= PICKUP_LIMIT_MS,
        ms === undefined
          ? `${pod.label} never got a call`
          : `${pod.label} got its first call ${seconds(ms)} after it joined DNS`,
      );
    }
    if (pickedUp) await this.must(client.waitForCalls(p.afterPickup, WAIT_MS, signal), "more calls");
    const phase2 = client.calls.slice(start2);
    const distinct2 = distinct(phase2);
    this.check(
      distinct2 === 5 && errors(phase2) === 0,
      `${phase2.length} calls, ${distinct2} pods, ${errors(phase2)} errors`,
    );
    this.results.push({
      phase: "2. scale 3 → 5",
      calls: phase2.length,
      instances: distinct2,
      errors: errors(phase2),
      note: `first call to new pods after ${pickups.map((x) => (x.ms === undefined ? "never" : seconds(x.ms))).join(", ")}`,
      ok:
        distinct2 === 5 &&
        errors(phase2) === 0 &&
        pickups.every((x) => x.ms !== undefined && x.ms <= PICKUP_LIMIT_MS),
    });

    // Phase 3.
    this.heading("Phase 3: scale 5 → 1, gracefully");
    this.explain(
      "Each removed pod leaves DNS first, then gets SIGTERM: its health turns NOT_SERVING, so the\n" +
        "client stops picking it at once; after the delay it sends GOAWAY, finishes the calls in\n" +
        "flight and exits. No call fails.",
    );
    const start3 = client.calls.length;
    const [keep, ...victims] = [...fleet.servers].sort(
      (a, b) => this.pods.get(a.address)!.n - this.pods.get(b.address)!.n,
    );
    const removedAt = Date.now();
    await Promise.all(victims.map((server) => this.removePod(server, false)));
    const drained = client.calls.length;
    await this.must(client.waitForCalls(p.afterDrain, WAIT_MS, signal), "calls after the drain");
    const after = client.calls.slice(drained);
    const onlyKeep = after.length > 0 && after.every((c) => c.address === keep!.address);
    const removed = new Set(victims.map((s) => s.address));
    const lastToRemoved = client.calls
      .slice(start3)
      .filter((c) => c.address !== undefined && removed.has(c.address))
      .at(-1);
    this.check(
      onlyKeep,
      `after the drain, ${after.length} of ${after.length} calls went to ${this.pods.get(keep!.address)!.label}` +
        (lastToRemoved
          ? `; last call to a removed pod ${seconds(lastToRemoved.at - removedAt)} after scale-down`
          : ""),
    );

    // The long-running client ends as on Ctrl-C: its summary, then its exit status.
    this.say();
    this.say(`  rng-client gets SIGINT and prints its summary:`);
    await this.must(client.interrupt(WAIT_MS), "the client's summary");
    for (const line of client.summary) this.say(this.o.style.dim(`  │ ${line}`));
    await this.showMetrics(client);
    // A second SIGINT ends the client's metrics linger.
    const exit = await this.stopClient(client);
    const phase3 = client.calls.slice(start3);
    const errors3 = errors(phase3);
    this.check(
      exit.code === 0 && errors3 === 0,
      `rng-client exited ${describeExit(exit)}: ${errors(client.calls)} failed calls of ${client.calls.length} in all`,
    );
    this.results.push({
      phase: "3. scale 5 → 1",
      calls: phase3.length,
      instances: distinct(after),
      errors: errors3,
      note: lastToRemoved
        ? `removed pods' last call ${seconds(lastToRemoved.at - removedAt)} after leaving DNS`
        : "no call reached a removed pod after it left DNS",
      ok: onlyKeep && errors3 === 0 && exit.code === 0,
    });

    // Phase 4.
    this.heading("Phase 4: round_robin vs pick_first vs passthrough (back at 3 pods)");
    for (const server of await this.scaleUpTo(3))
      this.say(this.describePod(this.pods.get(server.address)!, "now in DNS"));
    this.explain("The dns:/// target with round_robin, as in phases 1 to 3:");
    await this.shortRun("4a. dns:///, round_robin", ["--target", fleet.target], 3);
    this.explain(
      "With pick_first (gRPC's default policy when no service config names one), every call\n" +
        "goes to one pod: the first address of the DNS answer that accepts a connection.",
    );
    await this.shortRun("4b. dns:///, pick_first", ["--target", fleet.target, "--policy", "pick_first"], 1);
    const ips = await this.resolveOnce(fleet);
    this.explain(
      `Without dns:///, "${fleet.name}:${fleet.port}" is a passthrough target: gRPC hands the name to the OS,\n` +
        "which resolves it once, and one HTTP/2 connection carries every call, to one pod, however\n" +
        `far the Service scales. This machine's resolver does not know ${fleet.name} (only the\n` +
        "embedded DNS does), so the demo does the OS's part, one lookup, and passes the first answer\n" +
        `of ${ips.join(", ")}:`,
    );
    await this.shortRun(
      `4c. passthrough ${ips[0]}:${fleet.port}`,
      ["--target", `${ips[0]}:${fleet.port}`],
      1,
    );

    // Phase 5.
    this.heading("Phase 5: one slow pod, round_robin vs peak_ewma");
    this.explain(
      "Four more pods, one of them answering every call 50 ms late (rng-server --fault latency:50ms).\n" +
        "The same load, 8 calls in flight, through round_robin and then peak_ewma, which weighs each\n" +
        "pod by its recent latency (peak EWMA) times its calls in flight, as Linkerd and Finagle do:",
    );
    this.results.push(
      ...(await slowPodPhase({
        ...this.o,
        track: (what, child) => this.children.push({ what, child }),
      })),
    );
  }

  /** Adds pods (registered and labelled) until `replicas` run. */
  private async scaleUpTo(replicas: number): Promise<RngServerProcess[]> {
    const fleet = this.fleet!;
    const missing = Math.max(0, replicas - fleet.servers.length);
    const added = await Promise.all(Array.from({ length: missing }, () => fleet.addServer()));
    added.sort((a, b) => a.host.localeCompare(b.host, "en", { numeric: true }));
    for (const s of added) this.register(s);
    return added;
  }

  /** What the OS resolver would answer if it knew the name: the embedded DNS's A records. */
  private async resolveOnce(fleet: RngFleet): Promise<string[]> {
    const resolver = new Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([fleet.dns.address]);
    return resolver.resolve4(fleet.name);
  }

  private async shortRun(phase: string, args: string[], expected: number): Promise<void> {
    const run = this.startClient([
      ...args,
      "--interval",
      this.pace.interval,
      "--count",
      String(this.pace.contrast),
    ]);
    const exit = await this.stopClient(run, false);
    const n = distinct(run.calls);
    const ok = n === expected && errors(run.calls) === 0 && exit.code === 0;
    const who = [...new Set(run.calls.map((c) => this.pods.get(c.address ?? "")?.label ?? "?"))].join(", ");
    this.check(
      ok,
      `${run.calls.length} calls, ${n} pod${n === 1 ? "" : "s"} (${who}), ${errors(run.calls)} errors`,
    );
    this.results.push({
      phase,
      calls: run.calls.length,
      instances: n,
      errors: errors(run.calls),
      note: "",
      ok,
    });
  }

  /** Shows the pool's picks per pod from rng-client's /metrics, next to the calls each pod answered. */
  private async showMetrics(client: ClientRun): Promise<void> {
    if (!client.metricsUrl) {
      this.check(false, "rng-client printed no metrics address");
      return;
    }
    const text = await fetch(client.metricsUrl).then(
      (r) => r.text(),
      (err: Error) => `# ${err.message}`,
    );
    const answered = new Map<string, number>();
    for (const c of client.calls) if (c.address) answered.set(c.address, (answered.get(c.address) ?? 0) + 1);
    const rows = pickRows(picksPerEndpoint(text), answered, (a) => this.pods.get(a)?.label ?? "?");
    this.say();
    this.say(`  and its ${client.metricsUrl} says (rngbalance_pool_picks_total per endpoint):`);
    for (const line of formatPickRows(rows)) this.say(this.o.style.dim(`  │ ${line}`));
    this.check(
      rows.length > 0 && rows.every((r) => r.picks >= r.answered && r.picks > 0),
      "every pod that answered has its picks in /metrics (picks ≥ calls answered: retries count as picks)",
    );
  }

  /** Waits for a client's exit (SIGINT first if `interrupt`), or kills it on abort. */
  private async stopClient(run: ClientRun, interrupt = true): Promise<Exit> {
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () => reject(this.o.signal.reason);
      if (this.o.signal.aborted) onAbort();
      this.o.signal.addEventListener("abort", onAbort, { once: true });
      void run.exited.then(() => this.o.signal.removeEventListener("abort", onAbort));
    });
    aborted.catch(() => undefined);
    const exit = await Promise.race([interrupt ? run.stop() : run.exited, aborted]);
    this.clients.delete(run);
    return exit;
  }

  /** Adds pods until `replicas` run, or removes the newest (DNS first, then SIGTERM). */
  async scaleTo(replicas: number): Promise<void> {
    const fleet = this.fleet!;
    for (const s of await this.scaleUpTo(replicas))
      this.say(this.describePod(this.pods.get(s.address)!, "now in DNS"));
    const byAge = [...fleet.servers].sort(
      (a, b) => this.pods.get(a.address)!.n - this.pods.get(b.address)!.n,
    );
    await Promise.all(byAge.slice(replicas).map((s) => this.removePod(s, false)));
  }

  /** Takes one pod out: DNS first, then SIGTERM, or SIGKILL (a crash) with `kill`. */
  async removePod(server: RngServerProcess, kill: boolean): Promise<void> {
    const pod = this.pods.get(server.address)!;
    const started = Date.now();
    const exiting = this.fleet!.removeServer(server, { kill });
    this.say(this.describePod(pod, `out of DNS, ${kill ? "SIGKILL" : "SIGTERM"}`));
    const exit = await exiting;
    this.say(this.describePod(pod, `exited (${describeExit(exit)}) after ${seconds(Date.now() - started)}`));
  }

  /** The fleet, once set up. */
  get localFleet(): RngFleet | undefined {
    return this.fleet;
  }

  /** Starts a long-running client for interactive use. */
  startInteractiveClient(): ClientRun {
    return this.startClient(["--target", this.fleet!.target, "--interval", this.pace.interval, "--verbose"]);
  }

  /** Stops a client started with {@link startInteractiveClient}, printing its summary. */
  async finishClient(run: ClientRun): Promise<Exit> {
    const exit = await this.stopClient(run);
    for (const line of run.summary) this.say(this.o.style.dim(`  │ ${line}`));
    return exit;
  }

  /**
   * Stops every client (SIGINT, then SIGKILL) and the fleet (SIGTERM
   * every pod, close DNS), then checks that no child process is left.
   * Returns the pids that are still running (none, normally).
   */
  async close(): Promise<number[]> {
    await Promise.all([...this.clients].map((c) => c.stop(3000)));
    this.clients.clear();
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
    return this.children.map((c) => c.child.pid ?? -1);
  }

  /** Pids of the child processes that have not exited (never a pid reused since). */
  running(): number[] {
    return this.children
      .filter(({ child }) => child.exitCode === null && child.signalCode === null)
      .map(({ child }) => child.pid ?? -1);
  }

  /** SIGKILLs every child process still running: the last resort, synchronous. */
  killAll(): void {
    const all = [...this.children.map((c) => c.child), ...(this.fleet?.servers.map((s) => s.child) ?? [])];
    for (const child of all) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  }

  /** The final table. */
  table(): string {
    const { style } = this.o;
    return formatTable(this.results, (ok) => (ok ? style.green("✓") : style.red("✗")));
  }
}

function distinct(calls: readonly ObservedCall[]): number {
  return new Set(calls.filter((c) => c.code === "OK").map((c) => c.rn)).size;
}

function errors(calls: readonly ObservedCall[]): number {
  return calls.filter((c) => c.code !== "OK").length;
}

function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
