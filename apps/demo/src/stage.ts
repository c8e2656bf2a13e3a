import type { ChildProcess } from "node:child_process";
import type { RngFleet } from "@rngbalance/rng-fleet";
import type { DemoClients } from "./clients.js";
import type { Pace } from "./pace.js";
import type { PodRegistry } from "./pods.js";
import type { PhaseResult } from "./table.js";
import type { Transcript } from "./transcript.js";

/** What every phase of the demo works with, once the fleet is up. */
export interface Stage {
  readonly fleet: RngFleet;
  readonly pods: PodRegistry;
  readonly clients: DemoClients;
  readonly out: Transcript;
  readonly pace: Pace;
  /** Aborts the demo (Ctrl-C): waits reject. */
  readonly signal: AbortSignal;
  /** The rows of the final table: each phase adds its own. */
  readonly results: PhaseResult[];
  /** Registers a child process, so the demo's final check covers it. */
  readonly track: (what: string, child: ChildProcess) => void;
}
