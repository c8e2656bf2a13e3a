#!/usr/bin/env node
/**
 * `pnpm bench`: starts 3 rng-server processes (startRngFleet, with its embedded
 * DNS server) and 3 grpc-js server processes on 127.0.0.2-4, then runs every
 * (client, calls in flight) cell in a fresh client process, interleaved
 * across clients, `--repeats` times; then the pick and memory
 * microbenchmarks. Prints a Markdown report and writes
 * latest.{md,json,svg}.
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RNG_SERVER_MAIN, startRngFleet } from "@rngbalance/rng-server/testing";
import { freePort } from "@rngbalance/testkit";
import {
  type CellConfig,
  type CellResult,
  CLIENT_DESCRIPTIONS,
  CLIENTS_PER_SET,
  type ClientKind,
  SERVER_DESCRIPTIONS,
  SERVER_KINDS,
  SERVER_SETS,
  type ServerKind,
  type ServerSet,
} from "./cell.js";
import {
  entry,
  machineBusyUs,
  processCpuUs,
  processRssMb,
  runJsonChild,
  type ServiceChild,
  startServiceChild,
} from "./child.js";
import { type BenchConfig, FlagError, parseBenchFlags, USAGE } from "./flags.js";
import type { MemoryResult } from "./micro.js";
import type { PickResult } from "./pick.js";
import { type ProfileSummary, summarizeProfile } from "./profile.js";
import {
  type BenchReport,
  type MachineFacts,
  type RepeatCell,
  renderMarkdown,
  renderSvg,
  type ServerTable,
  summarize,
  summarizeServers,
} from "./report.js";
import { AB_MODES, type TelemetryAbConfig, type TelemetryAbResult } from "./telemetry-ab.js";
import { renderTelemetryCost, telemetryCost } from "./telemetry-cost.js";
import type { TelemetryMicroResult } from "./telemetry-micro.js";

/** The servers a cell runs against. */
interface ServerGroup {
  readonly poolTarget: string;
  readonly addresses: string[];
  readonly pids: number[];
}

interface Servers {
  readonly groups: Record<ServerSet, ServerGroup>;
  close(): Promise<void>;
}

const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

function progress(text: string): void {
  process.stderr.write(`${text}\n`);
}

function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown CPU",
    cores: cpus.length,
    memoryGb: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: { start: os.loadavg()[0] ?? 0, end: 0 },
  };
}

/** 3 rng-servers behind the embedded DNS, and 3 grpc-js servers under a second name. */
async function startServers(withGrpcJs: boolean): Promise<Servers> {
  const fleet = await startRngFleet({ replicas: 3, ttlSeconds: 5 });
  const grpcServers: ServiceChild<{ address: string }>[] = [];
  const close = async () => {
    await Promise.all(grpcServers.map((s) => s.stop()));
    await fleet.close();
  };
  try {
    const rng: ServerGroup = {
      poolTarget: fleet.target,
      addresses: fleet.servers.map((s) => s.address),
      pids: fleet.servers.map((s) => s.child.pid ?? 0),
    };
    let grpcJs: ServerGroup = { poolTarget: "", addresses: [], pids: [] };
    if (withGrpcJs) {
      for (let attempt = 0; ; attempt++) {
        const port = await freePort(HOSTS[0]);
        try {
          for (const host of HOSTS) {
            grpcServers.push(await startServiceChild(entry("grpc-server.js"), [host, String(port)]));
          }
          break;
        } catch (err) {
          await Promise.all(grpcServers.splice(0).map((s) => s.stop()));
          if (attempt >= 4) throw err;
        }
      }
      const port = Number(grpcServers[0]?.first.address.split(":").pop());
      fleet.dns.setRecords("grpc-js-headless", { a: [...HOSTS], ttl: 5 });
      grpcJs = {
        poolTarget: `dns://${fleet.dns.address}/grpc-js-headless:${port}`,
        addresses: grpcServers.map((s) => s.first.address),
        pids: grpcServers.map((s) => s.child.pid ?? 0),
      };
    }
    return { groups: { "rng-server": rng, "grpc-js-server": grpcJs }, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Runs one cell in a fresh client process; server CPU is sampled at the window's edges. */
async function runCell(
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
    const { value } = await runJsonChild<CellResult>(entry("client-child.js"), [JSON.stringify(config)], {
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
async function runQuietly(
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

/** The server table's hosts: one loopback address per server. */
const SERVER_TABLE_HOSTS: Readonly<Record<ServerKind, string>> = {
  "rng-server": "127.0.0.5",
  "rng-server-no-fast-path": "127.0.0.6",
  "stock-connect": "127.0.0.7",
  "grpc-js": "127.0.0.8",
  "bare-http2": "127.0.0.9",
};

/** Starts the server table's servers (`kinds`), one process each, with `nodeArgs` (e.g. --cpu-prof). */
async function startTableServers(
  kinds: readonly ServerKind[] = SERVER_KINDS,
  nodeArgs: (kind: ServerKind) => readonly string[] = () => [],
): Promise<{ groups: Record<ServerKind, ServerGroup>; close(): Promise<void> }> {
  const stops: (() => Promise<unknown>)[] = [];
  const close = async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
  try {
    const groups = {} as Record<ServerKind, ServerGroup>;
    for (const kind of kinds) {
      const host = SERVER_TABLE_HOSTS[kind];
      // rng-server is the real command; its first stdout line is its "listening" log.
      const [script, args] =
        kind === "rng-server"
          ? [RNG_SERVER_MAIN, ["--host", host, "--port", "0"]]
          : kind === "grpc-js"
            ? [entry("grpc-server.js"), [host, "0"]]
            : [entry("server-child.js"), [kind, host, "0"]];
      const child = await startServiceChild<{ address: string }>(script, args, { nodeArgs: nodeArgs(kind) });
      stops.push(() => child.stop());
      const address = child.first.address;
      groups[kind] = { poolTarget: `ipv4:${address}`, addresses: [address], pids: [child.child.pid ?? 0] };
    }
    return { groups, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The server table: each server alone, loaded by pool-rr (health checks
 * off) at every concurrency, servers interleaved, order rotated per repeat.
 */
async function runServerTable(config: BenchConfig): Promise<ServerTable> {
  progress(`server table: starting ${SERVER_KINDS.join(", ")} (one process each)`);
  const servers = await startTableServers();
  const cells: RepeatCell[] = [];
  try {
    const todo: { repeat: number; concurrency: number; server: ServerKind }[] = [];
    for (let repeat = 0; repeat < config.repeats; repeat++) {
      const shift = repeat % SERVER_KINDS.length;
      const order = [...SERVER_KINDS.slice(shift), ...SERVER_KINDS.slice(0, shift)];
      for (const concurrency of config.concurrencies) {
        for (const server of order) todo.push({ repeat, concurrency, server });
      }
    }
    const budget = { retriesLeft: Math.floor(todo.length / 4) };
    for (const [i, p] of todo.entries()) {
      const group = servers.groups[p.server];
      const run = () =>
        runCell(
          {
            client: "pool-rr",
            serverSet: p.server,
            concurrency: p.concurrency,
            warmupMs: config.warmupMs,
            durationMs: config.durationMs,
            poolTarget: group.poolTarget,
            addresses: group.addresses,
            healthCheck: false,
          },
          group,
          p.repeat,
        );
      const cell = await runQuietly(run, group, config, budget);
      cells.push(cell);
      progress(
        `[${String(i + 1).padStart(String(todo.length).length)}/${todo.length}] repeat ${p.repeat + 1} server ${p.server.padEnd(23)} ${String(p.concurrency).padStart(3)} in flight: ${
          cell.failure
            ? `FAILED ${cell.failure}`
            : `${Math.round(cell.callsPerSecond)} calls/s, server ${cell.serverCpuUsPerCall?.toFixed(1) ?? "?"} CPU µs/call, ${cell.serverRssMb?.toFixed(1) ?? "?"} MB, p50 ${Math.round(cell.p50Us)} µs, p99 ${Math.round(cell.p99Us)} µs, other load ${cell.otherLoadCores?.toFixed(2) ?? "?"} cores, ${cell.errors} errors`
        }`,
      );
    }
  } finally {
    await servers.close();
  }
  const { summary, ratios } = summarizeServers(cells, config.concurrencies);
  return { descriptions: SERVER_DESCRIPTIONS, cells, summary, ratios };
}

/** Every (repeat, concurrency, server set, client), clients interleaved, order rotated per repeat. */
function plan(
  config: BenchConfig,
): { repeat: number; serverSet: ServerSet; client: ClientKind; concurrency: number }[] {
  // --clients may name any client; those only gRPC servers can take run against grpc-js servers too.
  const chosen = (serverSet: ServerSet) =>
    config.clients === undefined
      ? CLIENTS_PER_SET[serverSet]
      : config.clients.filter((c) => serverSet === "rng-server" || CLIENTS_PER_SET[serverSet].includes(c));
  const pairs = SERVER_SETS.flatMap((serverSet) =>
    chosen(serverSet).map((client) => ({ serverSet, client })),
  );
  const out: ReturnType<typeof plan> = [];
  for (let repeat = 0; repeat < config.repeats; repeat++) {
    const shift = repeat % pairs.length;
    const order = [...pairs.slice(shift), ...pairs.slice(0, shift)];
    for (const concurrency of config.concurrencies) {
      for (const p of order) out.push({ repeat, concurrency, ...p });
    }
  }
  return out;
}

async function runMicro(config: BenchConfig): Promise<{ pick: PickResult; memory: MemoryResult[] }> {
  const farmSize = Math.max(config.memoryEndpoints, 1000);
  progress(`micro: starting a tiny h2c server on ${farmSize} ports`);
  const farm = await startServiceChild<{ addresses: string[] }>(entry("farm.js"), [String(farmSize)], {
    timeoutMs: 60_000,
  });
  try {
    const addresses = farm.first.addresses;
    progress("micro: pick");
    const { value: pick } = await runJsonChild<PickResult>(
      entry("micro.js"),
      [
        "pick",
        JSON.stringify({
          sizes: [3, 100, 1000],
          picks: config.quick ? 200_000 : 2_000_000,
          rounds: config.quick ? 3 : 7,
          addresses: addresses.slice(0, 1000),
          callMs: config.quick ? 200 : 600,
        }),
      ],
      { timeoutMs: 180_000 },
    );
    const memory: MemoryResult[] = [];
    for (const healthCheck of [true, false]) {
      progress(`micro: memory per idle endpoint, health checks ${healthCheck ? "on" : "off"}`);
      const { value } = await runJsonChild<MemoryResult>(
        entry("micro.js"),
        ["memory", JSON.stringify({ addresses: addresses.slice(0, config.memoryEndpoints), healthCheck })],
        { nodeArgs: ["--expose-gc"], timeoutMs: 120_000 },
      );
      memory.push(value);
    }
    return { pick, memory };
  } finally {
    await farm.stop();
  }
}

/** The telemetry table: off, API-only and SDK-metrics pools taking turns in one client process, per concurrency. */
async function runTelemetryAb(config: BenchConfig): Promise<TelemetryAbResult[]> {
  progress("telemetry: starting 3 rng-server processes");
  const servers = await startServers(false);
  const group = servers.groups["rng-server"];
  const results: TelemetryAbResult[] = [];
  try {
    for (const concurrency of config.concurrencies) {
      const abConfig: TelemetryAbConfig = {
        poolTarget: group.poolTarget,
        expected: group.addresses.length,
        concurrency,
        phaseMs: config.quick ? 300 : 1000,
        rounds: config.quick ? 2 : 4 * config.repeats,
        warmupCalls: config.quick ? 200 : 2000,
      };
      progress(
        `telemetry: off / API only / SDK metrics with and without sizes, ${concurrency} in flight, ${abConfig.rounds} rounds`,
      );
      const { value } = await runJsonChild<TelemetryAbResult>(
        entry("telemetry-ab-child.js"),
        [JSON.stringify(abConfig)],
        {
          timeoutMs: 60_000 + abConfig.rounds * AB_MODES.length * (abConfig.phaseMs + 2000),
        },
      );
      const errors = value.phases.reduce((n, p) => n + p.errors, 0);
      if (errors > 0) throw new Error(`telemetry A/B at ${concurrency} in flight: ${errors} failed calls`);
      results.push(value);
    }
  } finally {
    await servers.close();
  }
  return results;
}

async function runBench(config: BenchConfig): Promise<number> {
  const startedAt = new Date();
  const machine = machineFacts();
  const cells: RepeatCell[] = [];
  let pick: PickResult | undefined;
  let memory: MemoryResult[] = [];
  if (config.tables.clients) {
    progress(`starting 3 rng-server and 3 grpc-js server processes on ${HOSTS.join(", ")}`);
    const servers = await startServers(true);
    try {
      const todo = plan(config);
      const budget = { retriesLeft: Math.floor(todo.length / 4) };
      for (const [i, p] of todo.entries()) {
        const group = servers.groups[p.serverSet];
        const run = () =>
          runCell(
            {
              client: p.client,
              serverSet: p.serverSet,
              concurrency: p.concurrency,
              warmupMs: config.warmupMs,
              durationMs: config.durationMs,
              poolTarget: group.poolTarget,
              addresses: group.addresses,
            },
            group,
            p.repeat,
          );
        const cell = await runQuietly(run, group, config, budget);
        cells.push(cell);
        progress(
          `[${String(i + 1).padStart(String(todo.length).length)}/${todo.length}] repeat ${p.repeat + 1} ${p.serverSet.padEnd(14)} ${p.client.padEnd(13)} ${String(p.concurrency).padStart(3)} in flight: ${
            cell.failure
              ? `FAILED ${cell.failure}`
              : `${Math.round(cell.callsPerSecond)} calls/s, p50 ${Math.round(cell.p50Us)} µs, p99 ${Math.round(cell.p99Us)} µs, ${cell.cpuUsPerCall.toFixed(1)} CPU µs/call, other load ${cell.otherLoadCores?.toFixed(2) ?? "?"} cores, ${cell.errors} errors${cell.spread ? `, spread ${cell.spread.join("/")}` : ""}`
          }`,
        );
      }
    } finally {
      await servers.close();
    }
  }
  const serverTable = config.tables.servers ? await runServerTable(config) : undefined;
  const telemetryAb = config.tables.telemetry ? await runTelemetryAb(config) : [];
  if (config.micro) ({ pick, memory } = await runMicro(config));
  const telemetryMicro: TelemetryMicroResult[] = [];
  if (config.micro) {
    for (const mode of ["off", "api", "metrics", "tracing"] as const) {
      progress(`micro: telemetry work per call, ${mode}`);
      const calls = String(config.quick ? 50_000 : 200_000);
      const { value } = await runJsonChild<TelemetryMicroResult>(entry("telemetry-micro.js"), [
        mode,
        calls,
        "5",
      ]);
      telemetryMicro.push(value);
    }
  }

  machine.loadAverage.end = os.loadavg()[0] ?? 0;
  const { summary, ratios } = summarize(cells, config.concurrencies);
  const telemetry = telemetryCost(telemetryAb, cells, config.concurrencies, telemetryMicro);
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    tookSeconds: (Date.now() - startedAt.getTime()) / 1000,
    machine,
    settings: {
      repeats: config.repeats,
      concurrencies: config.concurrencies,
      warmupMs: config.warmupMs,
      durationMs: config.durationMs,
      quick: config.quick,
      maxOtherLoad: Number.isFinite(config.maxOtherLoad) ? config.maxOtherLoad : "off",
    },
    clients: Object.fromEntries(
      Object.entries(CLIENT_DESCRIPTIONS).filter(([k]) => cells.some((c) => c.client === k)),
    ) as Partial<Record<ClientKind, string>>,
    serverSets: CLIENTS_PER_SET,
    cells,
    summary,
    ratios,
    telemetry,
    pick,
    memory,
    ...(serverTable ? { servers: serverTable } : {}),
    errors: [...cells, ...(serverTable?.cells ?? [])].reduce((sum, c) => sum + c.errors, 0),
  };
  const markdown = `${renderMarkdown(report)}\n${renderTelemetryCost(telemetry)}`;
  mkdirSync(config.outDir, { recursive: true });
  writeFileSync(path.join(config.outDir, "latest.md"), markdown);
  writeFileSync(path.join(config.outDir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(config.outDir, "latest.svg"), renderSvg(report));
  process.stdout.write(markdown);
  progress(`wrote latest.md, latest.json and latest.svg in ${config.outDir}`);
  return report.errors === 0 ? 0 : 1;
}

/**
 * `--profile`: CPU profiles (node --cpu-prof) of one cell each, self time
 * within the measured window: the clients (pool-rr, pool-connect,
 * stock-connect, grpc-js and the raw-http2 floor against the rng-servers)
 * and/or the servers of the server table (each loaded by pool-rr), as
 * `--tables` says. Writes profile.md.
 */
async function runProfile(config: BenchConfig): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "rngbalance-prof-"));
  const concurrency = config.concurrencies[config.concurrencies.length - 1] ?? 64;
  const durationMs = Math.max(config.durationMs, 3000);
  const lines: string[] = ["# CPU profiles (node --cpu-prof, self time)", ""];
  lines.push(
    `${concurrency} in flight, ${config.warmupMs} ms warm-up + ${durationMs} ms measured per cell; self time of the samples within the measured window only (start-up and warm-up left out). Profiles in ${dir}.`,
    "",
  );
  if (config.tables.clients) lines.push(...(await profileClients(config, dir, concurrency, durationMs)));
  if (config.tables.servers) lines.push(...(await profileServers(config, dir, concurrency, durationMs)));
  const markdown = lines.join("\n");
  mkdirSync(config.outDir, { recursive: true });
  writeFileSync(path.join(config.outDir, "profile.md"), markdown);
  process.stdout.write(markdown);
  progress(`wrote profile.md in ${config.outDir}`);
  return 0;
}

/** One profile's section of profile.md. */
function profileSection(title: string, summary: ProfileSummary): string[] {
  const lines = [title, "", "| # | function | where | self ms | self % |", "|---:|---|---|---:|---:|"];
  summary.top.forEach((e, i) => {
    lines.push(
      `| ${i + 1} | \`${e.fn}\` | ${e.where || e.area} | ${e.selfMs.toFixed(0)} | ${e.percent.toFixed(1)} |`,
    );
  });
  lines.push("", "By area:", "", "| area | self ms | self % |", "|---|---:|---:|");
  for (const a of summary.byArea.slice(0, 12)) {
    lines.push(`| ${a.area} | ${a.selfMs.toFixed(0)} | ${a.percent.toFixed(1)} |`);
  }
  lines.push("");
  return lines;
}

/** Profiles pool-rr, pool-connect, stock-connect, grpc-js and the raw-http2 floor against 3 rng-servers. */
async function profileClients(
  config: BenchConfig,
  dir: string,
  concurrency: number,
  durationMs: number,
): Promise<string[]> {
  const servers = await startServers(false);
  const group = servers.groups["rng-server"];
  const lines = ["## Clients, against 3 rng-servers", ""];
  try {
    const profiled: readonly ClientKind[] = config.clients ?? [
      "pool-rr",
      "pool-connect",
      "stock-connect",
      "grpc-js",
      "raw-http2",
    ];
    for (const client of profiled) {
      progress(`profiling ${client} at ${concurrency} in flight`);
      const cell = await runCell(
        {
          client,
          serverSet: "rng-server",
          concurrency,
          warmupMs: config.warmupMs,
          durationMs,
          poolTarget: group.poolTarget,
          addresses: group.addresses,
        },
        group,
        0,
        ["--cpu-prof", `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${client}.cpuprofile`],
      );
      if (cell.failure) throw new Error(cell.failure);
      const file = readdirSync(dir).find((f) => f === `${client}.cpuprofile`);
      if (!file) throw new Error(`no profile written for ${client} in ${dir}`);
      const summary = summarizeProfile(path.join(dir, file), 15, cell.windowUs);
      lines.push(
        ...profileSection(
          `### ${client}: ${Math.round(cell.callsPerSecond)} calls/s, ${cell.cpuUsPerCall.toFixed(1)} CPU µs/call (profiled, so slower)`,
          summary,
        ),
      );
    }
  } finally {
    await servers.close();
  }
  return lines;
}

/**
 * Profiles each server of the server table, loaded alone by pool-rr; the
 * server writes its profile when it exits, so each is stopped after its cell.
 */
async function profileServers(
  config: BenchConfig,
  dir: string,
  concurrency: number,
  durationMs: number,
): Promise<string[]> {
  const lines = ["## Servers, each loaded alone by pool-rr", ""];
  for (const kind of SERVER_KINDS) {
    progress(`profiling the ${kind} server at ${concurrency} in flight`);
    const name = `server-${kind}.cpuprofile`;
    const servers = await startTableServers([kind], () => [
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${name}`,
    ]);
    const group = servers.groups[kind];
    let cell: RepeatCell;
    try {
      cell = await runCell(
        {
          client: "pool-rr",
          serverSet: kind,
          concurrency,
          warmupMs: config.warmupMs,
          durationMs,
          poolTarget: group.poolTarget,
          addresses: group.addresses,
          healthCheck: false,
        },
        group,
        0,
      );
    } finally {
      await servers.close();
    }
    if (cell.failure) throw new Error(cell.failure);
    const file = readdirSync(dir).find((f) => f === name);
    if (!file) throw new Error(`no profile written for the ${kind} server in ${dir}`);
    const summary = summarizeProfile(path.join(dir, file), 15, cell.windowUs);
    lines.push(
      ...profileSection(
        `### ${kind}: ${Math.round(cell.callsPerSecond)} calls/s, server ${cell.serverCpuUsPerCall?.toFixed(1) ?? "?"} CPU µs/call (profiled, so slower)`,
        summary,
      ),
    );
  }
  return lines;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseBenchFlags>;
  try {
    parsed = parseBenchFlags(process.argv.slice(2));
  } catch (err) {
    if (err instanceof FlagError) {
      process.stderr.write(`${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return parsed.config.profile ? runProfile(parsed.config) : runBench(parsed.config);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
