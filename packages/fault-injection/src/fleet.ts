// The only file that knows how pods are started (`@rngbalance/rng-fleet`):
// the rest of the package sees a FaultFleet.
import { spawnRngServer } from "@rngbalance/rng-fleet";
import { freePort } from "@rngbalance/testkit";
import { type DnsServerProcess, startDnsServerProcess } from "./dns-process.js";

/** One pod of a {@link FaultFleet}. */
export interface FaultPod {
  /** Its index in {@link FaultFleet.pods}. */
  readonly index: number;
  /** Its pod IP. */
  readonly host: string;
  /** Its port (the same for every pod). */
  readonly port: number;
  /** "host:port". */
  readonly address: string;
  /** The pid of its server process (the target of `freezeProcess`). */
  readonly pid: number;
  /** The number its Rng calls return, which tells which pod served a call. */
  readonly rn: bigint;
}

/** Options of {@link startFaultFleet}. */
export interface FaultFleetOptions {
  /** How many pods. Default 5. */
  pods?: number;
  /** The headless Service name in DNS. Default "rng-headless". */
  name?: string;
  /** TTL of the A records in seconds. Default 1. */
  ttlSeconds?: number;
}

/**
 * `rng-server` pods on loopback pod IPs 127.0.0.2, 127.0.0.3, ... (one port
 * for all) behind a DNS server in a process of its own
 * ({@link DnsServerProcess}), so that faults can freeze a pod or the DNS
 * server, drop a pod's packets, or take it out of DNS.
 */
export interface FaultFleet {
  readonly pods: readonly FaultPod[];
  /** The DNS server. */
  readonly dns: DnsServerProcess;
  /** The Service name. */
  readonly name: string;
  /** The port every pod listens on. */
  readonly port: number;
  /** The target a pool or grpc-js dials: `dns://<dns address>/<name>:<port>`. */
  readonly target: string;
  /** Puts a pod into DNS or takes it out (as Kubernetes does with a pod that is not ready). */
  setInDns(pod: FaultPod, inDns: boolean): Promise<void>;
  /** Stops every pod (SIGCONT first, then SIGTERM) and the DNS server. */
  close(): Promise<void>;
}

/** Starts {@link FaultFleet}: the DNS server, then the pods, each in DNS once it listens. */
export async function startFaultFleet(options: FaultFleetOptions = {}): Promise<FaultFleet> {
  const count = options.pods ?? 5;
  if (!Number.isInteger(count) || count < 1 || count > 250) {
    throw new TypeError(`startFaultFleet: pods must be an integer in 1-250, got ${count}`);
  }
  const name = options.name ?? "rng-headless";
  const ttl = options.ttlSeconds ?? 1;
  const dns = await startDnsServerProcess();
  const port = await freePort();
  const servers: Awaited<ReturnType<typeof spawnRngServer>>[] = [];
  const stop = async () => {
    await Promise.all(
      servers.map((s) => {
        s.child.kill("SIGCONT");
        return s.stop("SIGTERM");
      }),
    );
    await dns.close();
  };
  try {
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) => spawnRngServer({ host: `127.0.0.${i + 2}`, port })),
    );
    servers.push(...started);
  } catch (err) {
    await stop();
    throw err;
  }
  const pods: FaultPod[] = servers.map((s, index) => ({
    index,
    host: s.host,
    port: s.port,
    address: s.address,
    pid: s.child.pid as number,
    rn: s.rn,
  }));
  const inDns = new Set(pods);
  const publish = () =>
    dns.setAddresses(
      name,
      pods.filter((p) => inDns.has(p)).map((p) => p.host),
      ttl,
    );
  await publish();
  return {
    pods,
    dns,
    name,
    port,
    target: `dns://${dns.address}/${name}:${port}`,
    async setInDns(pod, wanted) {
      if (wanted) inDns.add(pod);
      else inDns.delete(pod);
      await publish();
    },
    close: stop,
  };
}
