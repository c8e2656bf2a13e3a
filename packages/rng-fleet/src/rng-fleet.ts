import { LocalFleet, type LocalFleetOptions } from "./local-fleet.js";
import { type RngServerProcess, spawnRngServer } from "./rng-server-process.js";

/** A fleet of `rng-server` pods. */
export type RngFleet = LocalFleet<RngServerProcess>;

/** Options of {@link startRngFleet}: the fleet's, plus rng-server flags for every pod. */
export interface RngFleetOptions extends Omit<LocalFleetOptions<RngServerProcess>, "spawn"> {
  /** Extra `rng-server` flags for every server. */
  serverArgs?: string[];
  /** The entry point every pod runs, as {@link spawnRngServer}'s `main`. Default `RNG_SERVER_MAIN`, rng-server's `main` entry. */
  main?: string;
}

/**
 * A headless Service of `rng-server` pods on loopback pod IPs behind the
 * embedded DNS server (see LocalFleet), for tests, the demo and the bench.
 */
export function startRngFleet(options: RngFleetOptions = {}): Promise<RngFleet> {
  const { serverArgs = [], main, ...fleet } = options;
  return LocalFleet.start({
    ...fleet,
    spawn: ({ host, port, args }) =>
      spawnRngServer({ host, port, args: [...serverArgs, ...args], ...(main ? { main } : {}) }),
  });
}
