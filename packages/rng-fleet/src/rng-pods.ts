import { freePort } from "@rngbalance/testkit";
import { type RngServerProcess, spawnRngServer } from "./rng-server-process.js";

/** What {@link spawnRngPods} starts. */
export interface SpawnRngPodsOptions {
  /** One pod per host ("pod IP"), e.g. ["127.0.0.2", "127.0.0.3"]. */
  readonly hosts: readonly string[];
  /** rng-server flags of the pod at index i (e.g. a fault on one of them). Default: none. */
  readonly args?: (i: number) => string[];
  /** Also give every pod a metrics listener (`--metrics-addr host:<one port>`). Default false. */
  readonly metrics?: boolean;
  /** Ports tried before giving up. Default 3. */
  readonly attempts?: number;
}

/** Pods started by {@link spawnRngPods}. */
export interface RngPods {
  /** The port every pod listens on, as behind a headless Service. */
  readonly port: number;
  /** The pods, in the order of `hosts`. */
  readonly pods: RngServerProcess[];
  /** Each pod's `host:port` of /metrics, in the order of `hosts`; empty without `metrics`. */
  readonly metrics: string[];
}

/**
 * rng-server pods on several loopback hosts, all on one port, as the pods
 * of a headless Service. `freePort()` checks 127.0.0.1 only, and other work
 * on the machine uses loopback pod IPs too: when the port is taken on one
 * of the hosts, the pods that started are stopped and the whole set starts
 * over on another port.
 * @throws the last attempt's error when no port worked.
 */
export async function spawnRngPods(options: SpawnRngPodsOptions): Promise<RngPods> {
  const { hosts, args = () => [], metrics = false, attempts = 3 } = options;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const metricsPort = metrics ? await freePort() : undefined;
    const started = await Promise.allSettled(
      hosts.map((host, i) =>
        spawnRngServer({
          host,
          port,
          args: [
            ...args(i),
            ...(metricsPort === undefined ? [] : ["--metrics-addr", `${host}:${metricsPort}`]),
          ],
        }),
      ),
    );
    const ok = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    if (ok.length === hosts.length) {
      return {
        port,
        pods: ok,
        metrics: metricsPort === undefined ? [] : hosts.map((h) => `${h}:${metricsPort}`),
      };
    }
    await Promise.all(ok.map((p) => p.stop()));
    if (attempt >= attempts)
      throw (started.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
  }
}
