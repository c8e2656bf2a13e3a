import { EmbeddedDnsServer } from "@rngbalance/dns-test-server";
import { freePort } from "@rngbalance/testkit";

/** What the fleet needs of one pod: where it listens, and how to stop it. */
export interface FleetPod {
  /** Its pod IP. */
  readonly host: string;
  /** "host:port". */
  readonly address: string;
  /** Stops it with `signal` (SIGTERM: a graceful drain; SIGKILL: a crash) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<unknown>;
}

/** Starts one pod listening on `host:port`, with `args` for it. */
export type PodSpawner<P extends FleetPod> = (pod: {
  host: string;
  port: number;
  args: string[];
}) => Promise<P>;

/** Options of {@link LocalFleet.start}. */
export interface LocalFleetOptions<P extends FleetPod> {
  /** Starts a pod: e.g. an `rng-server` process (`startRngFleet` passes that). */
  spawn: PodSpawner<P>;
  /** How many servers to start. Default 3. */
  replicas?: number;
  /** The headless Service name the DNS server answers for. Default "rng-headless". */
  name?: string;
  /** The port every pod listens on; 0 picks one that is free. Default 0. */
  port?: number;
  /** TTL of the DNS records, in seconds. Default 1. */
  ttlSeconds?: number;
  /** DNS server port; 0 picks a free one. Default 0. */
  dnsPort?: number;
}

/**
 * A Kubernetes headless Service on one machine: server processes on
 * distinct loopback "pod IPs" (127.0.0.2, 127.0.0.3, ...; Linux routes all
 * of 127/8 to lo) and an embedded DNS server playing kube-dns, whose A
 * records follow the pods like EndpointSlices do.
 */
export class LocalFleet<P extends FleetPod> {
  private readonly running = new Map<string, P>();
  private nextIp = 0;

  private constructor(
    /** The DNS server playing kube-dns. */
    readonly dns: EmbeddedDnsServer,
    /** The Service name. */
    readonly name: string,
    /** The port every pod listens on. */
    readonly port: number,
    private readonly spawn: PodSpawner<P>,
  ) {}

  /** Starts the DNS server and `replicas` servers, each in DNS once it listens. */
  static async start<P extends FleetPod>(options: LocalFleetOptions<P>): Promise<LocalFleet<P>> {
    const dns = await EmbeddedDnsServer.start({ port: options.dnsPort ?? 0 });
    const name = options.name ?? "rng-headless";
    dns.setRecords(name, { a: [], ttl: options.ttlSeconds ?? 1 });
    const fleet = new LocalFleet(dns, name, options.port || (await freePort()), options.spawn);
    try {
      await fleet.scaleTo(options.replicas ?? 3);
    } catch (err) {
      await fleet.close();
      throw err;
    }
    return fleet;
  }

  /** The target a pool dials: `dns://127.0.0.1:<dns port>/rng-headless:<port>`. */
  get target(): string {
    return `dns://${this.dns.address}/${this.name}:${this.port}`;
  }

  /** The running servers, oldest first. */
  get servers(): P[] {
    return [...this.running.values()];
  }

  /** The next unused pod IP: 127.0.0.2 ... 127.0.0.251, then 127.0.1.2, ... */
  private allocateIp(): string {
    const i = this.nextIp++;
    return `127.0.${Math.floor(i / 250)}.${2 + (i % 250)}`;
  }

  /** Starts one more server at a new pod IP and adds it to DNS (scale up by one). */
  async addServer(extraArgs: string[] = []): Promise<P> {
    const host = this.allocateIp();
    const server = await this.spawn({ host, port: this.port, args: extraArgs });
    this.running.set(server.address, server);
    this.dns.addAddress(this.name, host);
    return server;
  }

  /**
   * Takes a server out as Kubernetes does on scale-down: DNS first, then
   * SIGTERM (graceful drain), or SIGKILL with `kill: true` (a crash).
   */
  removeServer(server: P, { kill = false }: { kill?: boolean } = {}): ReturnType<P["stop"]> {
    this.dns.removeAddress(this.name, server.host);
    this.running.delete(server.address);
    // The pod's own stop() type (e.g. its exit status), which FleetPod only knows as unknown.
    return server.stop(kill ? "SIGKILL" : "SIGTERM") as ReturnType<P["stop"]>;
  }

  /** Adds or removes servers (newest first) until `replicas` run. */
  async scaleTo(replicas: number): Promise<void> {
    while (this.running.size < replicas) {
      const missing = replicas - this.running.size;
      await Promise.all(Array.from({ length: missing }, () => this.addServer()));
    }
    const excess = this.servers.slice(replicas).reverse();
    await Promise.all(excess.map((s) => this.removeServer(s)));
  }

  /** Stops every server (graceful) and the DNS server. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => this.removeServer(s)));
    await this.dns.close();
  }
}
