/**
 * The bench's server processes: the client table's 3 rng-servers (behind the
 * embedded DNS) and 3 grpc-js servers, the server table's servers, one
 * process each on its own loopback address, and the microbenchmarks' farm.
 */
import { RNG_SERVER_MAIN, startRngFleet } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { SERVER_KINDS, type ServerKind, type ServerSet } from "./cell.js";
import { childPath, type ServiceChild, startChild, startCommand } from "./child.js";
import type { FarmArgs } from "./farm.child.js";
import type { GrpcServerArgs } from "./grpc-server.child.js";
import { scrapeEverySecond } from "./sdk.js";
import type { ServerChildArgs } from "./server.child.js";

const GRPC_SERVER_CHILD = childPath(import.meta.url, "grpc-server.child.js");
const SERVER_CHILD = childPath(import.meta.url, "server.child.js");
const FARM_CHILD = childPath(import.meta.url, "farm.child.js");

/** The servers a cell runs against. */
export interface ServerGroup {
  readonly poolTarget: string;
  readonly addresses: string[];
  readonly pids: number[];
}

/** The client table's server sets, and how to stop them. */
export interface Servers {
  readonly groups: Record<ServerSet, ServerGroup>;
  close(): Promise<void>;
}

/** The client table's hosts: each runs one rng-server and one grpc-js server. */
export const HOSTS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/** 3 rng-servers behind the embedded DNS, and 3 grpc-js servers under a second name. */
export async function startServers(withGrpcJs: boolean): Promise<Servers> {
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
            const args: GrpcServerArgs = { host, port };
            grpcServers.push(await startChild(GRPC_SERVER_CHILD, args));
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

/** The server table's hosts: one loopback address per server. */
const SERVER_TABLE_HOSTS: Readonly<Record<ServerKind, string>> = {
  "rng-server": "127.0.0.5",
  "rng-server-metrics": "127.0.0.10",
  "rng-server-no-fast-path": "127.0.0.6",
  "stock-connect": "127.0.0.7",
  "grpc-js": "127.0.0.8",
  "bare-http2": "127.0.0.9",
};

/** Starts the server table's servers (`kinds`), one process each, with `nodeArgs` (e.g. --cpu-prof). */
export async function startTableServers(
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
      const options = {
        nodeArgs: nodeArgs(kind),
        // rng-server logs "metrics" (that listener's address) before "listening" when it has --metrics-addr.
        isFirst: (line: { msg?: string }) => line.msg !== "metrics",
      };
      type Listening = { address: string; msg?: string };
      // rng-server is the real command, with its own flags; its "listening" log line names its address.
      const child =
        kind === "rng-server" || kind === "rng-server-metrics"
          ? await startCommand<Listening>(
              RNG_SERVER_MAIN,
              ["--host", host, "--port", "0", ...(await metricsFlags(kind, host, stops))],
              options,
            )
          : kind === "grpc-js"
            ? await startChild<Listening>(
                GRPC_SERVER_CHILD,
                { host, port: 0 } satisfies GrpcServerArgs,
                options,
              )
            : await startChild<Listening>(
                SERVER_CHILD,
                { kind, host, port: 0 } satisfies ServerChildArgs,
                options,
              );
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
 * rng-server-metrics's `--metrics-addr`, and a scrape of its /metrics every
 * second from this process (as Prometheus would, from outside the server),
 * stopped with the servers. Nothing for other kinds.
 */
async function metricsFlags(
  kind: ServerKind,
  host: string,
  stops: (() => Promise<unknown>)[],
): Promise<string[]> {
  if (kind !== "rng-server-metrics") return [];
  const address = `${host}:${await freePort(host)}`;
  const stopScraping = scrapeEverySecond(`http://${address}`);
  stops.push(async () => stopScraping());
  return ["--metrics-addr", address];
}

/**
 * Many idle endpoints: ONE tiny h2c gRPC server behind `count` listening
 * sockets on 127.0.0.1 (farm.child.ts), in its own process; `first.addresses`
 * lists them.
 */
export function startFarm(count: number): Promise<ServiceChild<{ addresses: string[] }>> {
  const args: FarmArgs = { count };
  return startChild(FARM_CHILD, args, { timeoutMs: 60_000 });
}
