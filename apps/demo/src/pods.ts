import type { ChildProcess } from "node:child_process";
import type { RngServerProcess } from "@rngbalance/rng-fleet";

/** One rng-server of the fleet, numbered in the order it joined: pod-1, pod-2, ... */
export interface Pod {
  readonly n: number;
  readonly label: string;
  readonly server: RngServerProcess;
}

/** The fleet's pods by address; registering one also tracks its process. */
export class PodRegistry {
  private readonly byAddress = new Map<string, Pod>();

  /** `track` registers each pod's process, so the demo's final check covers it. */
  constructor(private readonly track: (what: string, child: ChildProcess) => void) {}

  /** Numbers and labels a new pod. */
  register(server: RngServerProcess): Pod {
    const n = this.byAddress.size + 1;
    const pod = { n, label: `pod-${n}`, server };
    this.byAddress.set(server.address, pod);
    this.track(`${pod.label} ${server.address}`, server.child);
    return pod;
  }

  /** The pod at `address`, if registered. */
  get(address: string): Pod | undefined {
    return this.byAddress.get(address);
  }

  /** The pod's label ("pod-3"), or "?" for an unknown address. */
  label(address: string): string {
    return this.byAddress.get(address)?.label ?? "?";
  }

  /** The servers, oldest pod first. */
  byAge(servers: readonly RngServerProcess[]): RngServerProcess[] {
    return [...servers].sort((a, b) => this.byAddress.get(a.address)!.n - this.byAddress.get(b.address)!.n);
  }
}
