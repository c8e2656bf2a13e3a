/**
 * Running one cell: a fresh client process against a server group, with the
 * servers' CPU and the machine's other load sampled at the window's edges,
 * and runs again when someone else's work shared the machine.
 */

import type { CellConfig, CellResult, RepeatCell } from "./cell.js";
import { childPath, machineBusyUs, processCpuUs, processRssMb, runChild } from "./child.js";
import type { BenchConfig } from "./config.js";
import { progress } from "./progress.js";
import type { ServerGroup } from "./servers.js";

const CLIENT_CHILD = childPath(import.meta.url, "client.child.js");

/** Runs one cell in a fresh client process; server CPU is sampled at the window's edges. */
export async function runCell(
  config: CellConfig,
  group: ServerGroup,
  repeat: number,
  nodeArgs: readonly string[] = [],
): Promise<RepeatCell> {
  const cpu = () => group.pids.reduce((sum, pid) => sum + processCpuUs(pid), 0);
  let cpuAtStart = 0;
  let cpuAtStop = 0;
  let busyAtStart = 0;
  let busyAtStop = 0;
  let rssAtStop = Number.NaN;
  try {
    const { value } = await runChild<CellResult>(CLIENT_CHILD, config, {
      nodeArgs,
      timeoutMs: config.warmupMs + config.durationMs + 30_000,
      onLine: (line) => {
        if (line.includes('"event":"start"')) {
          cpuAtStart = cpu();
          busyAtStart = machineBusyUs();
        } else if (line.includes('"event":"stop"')) {
          cpuAtStop = cpu();
          busyAtStop = machineBusyUs();
          rssAtStop = group.pids.reduce((sum, pid) => sum + processRssMb(pid), 0);
        }
      },
    });
    const serverCpuUsPerCall =
      value.calls > 0 && cpuAtStop > 0 ? (cpuAtStop - cpuAtStart) / value.calls : undefined;
    const serverCpuUs = cpuAtStop - cpuAtStart;
    const clientCpuUs = value.cpuUsPerCall * value.calls;
    const otherLoadCores =
      busyAtStop > 0 && value.elapsedMs > 0
        ? Math.max(0, busyAtStop - busyAtStart - serverCpuUs - clientCpuUs) / (value.elapsedMs * 1000)
        : undefined;
    return { ...value, serverCpuUsPerCall, serverRssMb: rssAtStop, otherLoadCores, repeat };
  } catch (err) {
    const failure = (err as Error).message;
    return {
      client: config.client,
      serverSet: config.serverSet,
      concurrency: config.concurrency,
      elapsedMs: 0,
      calls: 0,
      callsPerSecond: 0,
      p50Us: 0,
      p99Us: 0,
      cpuUsPerCall: 0,
      rssMb: 0,
      errors: 1,
      firstError: failure,
      spread: undefined,
      windowUs: [0, 0],
      repeat,
      failure,
    };
  }
}

/** Cores used by everything but the (idle) servers over the next 500 ms. */
async function otherLoadNow(serverPids: readonly number[]): Promise<number> {
  const mine = () => serverPids.reduce((sum, pid) => sum + processCpuUs(pid), 0);
  const busy0 = machineBusyUs();
  const mine0 = mine();
  await new Promise((r) => setTimeout(r, 500));
  return Math.max(0, machineBusyUs() - busy0 - (mine() - mine0)) / 500_000;
}

function noisy(cell: RepeatCell, maxOtherLoad: number): boolean {
  return cell.failure === undefined && (cell.otherLoadCores ?? 0) > maxOtherLoad;
}

/**
 * Runs a cell; if someone else's work shared the machine meanwhile, runs it
 * again (at most twice, within the budget, and only once the machine is
 * quiet again) and keeps the quietest run.
 */
export async function runQuietly(
  run: () => Promise<RepeatCell>,
  group: ServerGroup,
  config: BenchConfig,
  budget: { retriesLeft: number },
): Promise<RepeatCell> {
  let cell = await run();
  for (
    let attempt = 2;
    attempt <= 3 && budget.retriesLeft > 0 && noisy(cell, config.maxOtherLoad);
    attempt++
  ) {
    // Only when the machine has calmed down: a long test run next door would not.
    const now = await otherLoadNow(group.pids);
    if (now > config.maxOtherLoad) {
      progress(`  other load ${cell.otherLoadCores?.toFixed(2)} cores, still ${now.toFixed(2)}: kept`);
      break;
    }
    budget.retriesLeft--;
    progress(
      `  other load ${cell.otherLoadCores?.toFixed(2)} cores, now ${now.toFixed(2)}: running the cell again`,
    );
    const again = { ...(await run()), attempts: attempt };
    if (again.failure !== undefined || (again.otherLoadCores ?? 0) >= (cell.otherLoadCores ?? 0)) {
      cell = { ...cell, attempts: attempt, errors: cell.errors + again.errors };
    } else {
      cell = { ...again, errors: again.errors + cell.errors };
    }
  }
  return cell;
}
