import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ClientDriver, FromDriver, ToDriver } from "./drivers.js";
import { type FaultFleet, type FaultPod, startFaultFleet } from "./fleet.js";
import { type FaultMeasurement, measure, type PhaseMarks } from "./measure.js";
import { dropPackets } from "./nft.js";
import { freezeProcess } from "./signals.js";
import { captureStuckStack } from "./stuck-stack.js";

/** What a fault may touch: the fleet, and the pod chosen to fail. */
export interface FaultContext {
  readonly fleet: FaultFleet;
  readonly pod: FaultPod;
}

/** A silent failure the runner injects after the baseline phase and removes before the recovery phase. */
export interface FaultScenario {
  /** Its name on the command line and in the table. */
  readonly name: string;
  /** One line for the table's header. */
  readonly description: string;
  /** Whether it needs root, a network namespace and nftables (see `probeFaultSupport`). */
  readonly needsNetfilter: boolean;
  /** Whether the fault has a faulty pod (detection and recovery are measured for it). */
  readonly hasFaultyPod: boolean;
  /** Injects the fault; resolves with the function that removes it. */
  inject(context: FaultContext): Promise<() => Promise<void>>;
}

/** The scenarios of issue #23, by name. */
export const SCENARIOS: Readonly<Record<string, FaultScenario>> = {
  sigstop: {
    name: "sigstop",
    description: "one pod stopped with SIGSTOP (the kernel still ACKs for it)",
    needsNetfilter: false,
    hasFaultyPod: true,
    async inject({ pod }) {
      const frozen = freezeProcess(pod.pid);
      return async () => frozen.resume();
    },
  },
  blackhole: {
    name: "blackhole",
    description: "every packet to and from one pod dropped (nftables)",
    needsNetfilter: true,
    hasFaultyPod: true,
    async inject({ pod }) {
      const drop = await dropPackets({ host: pod.host, port: pod.port });
      return () => drop.remove();
    },
  },
  loss5: {
    name: "loss5",
    description: "5 % of one pod's packets dropped at random (nftables)",
    needsNetfilter: true,
    hasFaultyPod: true,
    async inject({ pod }) {
      const drop = await dropPackets({ host: pod.host, port: pod.port, percent: 5 });
      return () => drop.remove();
    },
  },
  "blackhole-dns": {
    name: "blackhole-dns",
    description: "one pod blackholed and removed from DNS; back in DNS when it recovers",
    needsNetfilter: true,
    hasFaultyPod: true,
    async inject({ fleet, pod }) {
      const drop = await dropPackets({ host: pod.host, port: pod.port });
      await fleet.setInDns(pod, false);
      return async () => {
        await drop.remove();
        await fleet.setInDns(pod, true);
      };
    },
  },
  "dns-frozen": {
    name: "dns-frozen",
    description: "the DNS server stopped with SIGSTOP (every pod healthy)",
    needsNetfilter: false,
    hasFaultyPod: false,
    async inject({ fleet }) {
      const frozen = freezeProcess(fleet.dns.pid);
      return async () => frozen.resume();
    },
  },
};

/** Options of {@link runFaultScenarios}. */
export interface FaultRunOptions {
  /** The faults, run one after another. */
  scenarios: readonly FaultScenario[];
  /** The clients; each meets each fault in a fresh process. */
  drivers: readonly ClientDriver[];
  /** Pods in the fleet. Default 5. */
  pods?: number;
  /** Calls in flight per client. Default 64. */
  inFlight?: number;
  /** Load before the baseline phase, not measured (connections, JIT, estimates settle). Default 2000. */
  warmupMs?: number;
  /** Length of the baseline phase. Default 3000. */
  baselineMs?: number;
  /** How long the fault lasts. Default 8000. */
  faultMs?: number;
  /** Length of the recovery phase after the fault is removed. Default 5000. */
  recoveryMs?: number;
  /** How long a stopped driver waits for its calls still running before it reports them unfinished. Default 2000. */
  drainMs?: number;
  /**
   * The node binary the drivers run on (to compare Node lines: the client
   * side of HTTP/2 differs between them). Default: this process's.
   */
  nodePath?: string;
  /** Called with each result as soon as it is measured (progress output). */
  onResult?: (result: FaultResult) => void;
}

/** One client through one fault. */
export interface FaultResult {
  readonly scenario: string;
  readonly driver: string;
  /** The figures; undefined when the driver hung or failed (see `hung`, `error`). */
  readonly measurement?: FaultMeasurement;
  /**
   * Set when the driver's event loop stopped turning (no heartbeat for 2 s)
   * and it did not report: when the last heartbeat came (ms after the
   * fault's start), and the JavaScript stack its diagnostic report showed.
   */
  readonly hung?: { readonly lastBeatMs: number; readonly stack: string };
  /**
   * How late the driver's heartbeat timer (every 250 ms) fired at worst:
   * how long its event loop stalled. Set when it reported.
   */
  readonly maxBeatGapMs?: number;
  /** The driver's error, when it failed to start or crashed. */
  readonly error?: string;
}

const DRIVER_CHILD = fileURLToPath(new URL("./driver-child.js", import.meta.url));
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs every scenario against every driver on one fleet (started here,
 * stopped at the end): baseline, fault, recovery; then measures each.
 * Faults that need netfilter act on the network namespace this process
 * runs in: run it inside one (the `rng-faults` CLI does).
 */
export async function runFaultScenarios(options: FaultRunOptions): Promise<FaultResult[]> {
  const fleet = await startFaultFleet({ pods: options.pods ?? 5 });
  const results: FaultResult[] = [];
  try {
    for (const scenario of options.scenarios) {
      for (const driver of options.drivers) {
        const result = await runOne(fleet, scenario, driver, options);
        results.push(result);
        options.onResult?.(result);
      }
    }
  } finally {
    await fleet.close();
  }
  return results;
}

async function runOne(
  fleet: FaultFleet,
  scenario: FaultScenario,
  driver: ClientDriver,
  options: FaultRunOptions,
): Promise<FaultResult> {
  const base = { scenario: scenario.name, driver: driver.name };
  const child: ChildProcess = fork(DRIVER_CHILD, [], {
    stdio: ["ignore", "inherit", "pipe", "ipc"],
    // A free port for the inspector, which opens only if the driver gets stuck (captureStuckStack).
    execArgv: ["--inspect-port=0"],
    ...(options.nodePath ? { execPath: options.nodePath } : {}),
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    // The inspector's own lines are for captureStuckStack; the rest is the driver's.
    const own = chunk
      .split("\n")
      .filter(
        (l) => l !== "" && !/Debugger (listening|attached)|For help, see: https:\/\/nodejs.org/.test(l),
      );
    if (own.length > 0) process.stderr.write(`${own.join("\n")}\n`);
  });
  const messages: FromDriver[] = [];
  let waiter: (() => void) | undefined;
  let lastBeat = now();
  let maxBeatGap = 0;
  child.on("message", (m: FromDriver) => {
    if (m.type === "beat") {
      // Beyond the heartbeat's own 250 ms interval: the time the loop was late.
      maxBeatGap = Math.max(maxBeatGap, m.at - lastBeat - 250);
      lastBeat = m.at;
    } else {
      messages.push(m);
      waiter?.();
    }
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const next = async (timeoutMs: number): Promise<FromDriver | undefined> => {
    const deadline = now() + timeoutMs;
    while (messages.length === 0 && now() < deadline && child.exitCode === null) {
      await Promise.race([new Promise<void>((r) => (waiter = r)), sleep(100), exited]);
    }
    return messages.shift();
  };
  const send = (m: ToDriver) => child.send(m);
  let removeFault: (() => Promise<void>) | undefined;
  const pod = fleet.pods[0] as FaultPod;
  try {
    send({
      type: "init",
      driver,
      target: fleet.target,
      pods: fleet.pods.map((p) => ({ address: p.address, rn: String(p.rn) })),
      inFlight: options.inFlight ?? 64,
      readyTimeoutMs: 15_000,
    });
    const ready = await next(20_000);
    if (ready?.type !== "ready") {
      return { ...base, error: ready?.type === "error" ? ready.message : "the driver did not get ready" };
    }
    send({ type: "start" });
    // Connections, JIT and the balancer's estimates settle before the baseline is measured.
    await sleep(options.warmupMs ?? 2000);
    const start = now();
    await sleep(options.baselineMs ?? 3000);
    const faultStart = now();
    removeFault = await scenario.inject({ fleet, pod });
    await sleep(options.faultMs ?? 8000);
    await removeFault();
    removeFault = undefined;
    const faultEnd = now();
    await sleep(options.recoveryMs ?? 5000);
    const end = now();
    const drainMs = options.drainMs ?? 2000;
    const marks: PhaseMarks = { start, faultStart, faultEnd, end };
    if (child.connected) send({ type: "stop", drainMs });
    const done = await next(drainMs + 5000);
    if (done?.type === "done") {
      return {
        ...base,
        measurement: measure(done.calls, done.picks, marks, scenario.hasFaultyPod ? pod.index : undefined),
        maxBeatGapMs: maxBeatGap,
      };
    }
    if (done?.type === "error") return { ...base, error: done.message };
    return {
      ...base,
      hung: {
        lastBeatMs: lastBeat - faultStart,
        stack: await captureStuckStack(child, { text: () => stderr }),
      },
    };
  } finally {
    await removeFault?.();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}
