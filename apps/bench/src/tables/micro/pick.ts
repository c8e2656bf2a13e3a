/** The pick microbenchmark: ns per `pick()` of a picker over READY endpoints. */
import { type Balanceable, ConnectivityState, type Picker } from "@rngbalance/dns-pool";
import { median } from "../../harness/stats.js";

/** What the pick child measures. */
export interface PickConfig {
  /** Endpoint counts, e.g. [3, 100, 1000]. */
  readonly sizes: readonly number[];
  /** Picks per timed round. */
  readonly picks: number;
  readonly rounds: number;
}

/** One policy over one endpoint count. */
export interface PickRow {
  readonly policy: "round_robin" | "least_request";
  readonly endpoints: number;
  /** ns per pick. */
  readonly value: number;
}

/** The pick microbenchmark's figures. */
export interface PickResult {
  /** How the figures were taken: the real picker classes. */
  readonly method: "picker";
  readonly unit: "ns/pick";
  readonly rows: readonly PickRow[];
  readonly note: string;
}

/** The constructor shape of RoundRobinPicker: the endpoints and a cursor. */
export type PickerClass = new (
  ready: readonly Balanceable[],
  cursor: { next: number },
) => Picker<Balanceable>;

/**
 * The constructor shape of LeastRequestPicker: the endpoints only (its
 * optional second argument is slow-start weights, not a cursor).
 */
export type LeastRequestPickerClass = new (ready: readonly Balanceable[]) => Picker<Balanceable>;

/** ns per pick of the given picker classes: median of `rounds` timed rounds after a warm-up round. */
export function realPickers(config: PickConfig, rr: PickerClass, lr: LeastRequestPickerClass): PickResult {
  const rows: PickRow[] = [];
  let sink = 0;
  for (const policy of ["round_robin", "least_request"] as const) {
    for (const n of config.sizes) {
      const endpoints: Balanceable[] = Array.from({ length: n }, (_, i) => ({
        state: ConnectivityState.READY,
        inFlight: i % 4,
      }));
      const picker = policy === "round_robin" ? new rr(endpoints, { next: 0 }) : new lr(endpoints);
      const round = () => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < config.picks; i++) sink += picker.pick()?.inFlight ?? 0;
        return Number(process.hrtime.bigint() - t0) / config.picks;
      };
      round(); // warm-up: let the JIT settle
      const samples = Array.from({ length: config.rounds }, round);
      rows.push({ policy, endpoints: n, value: median(samples) });
    }
  }
  return {
    method: "picker",
    unit: "ns/pick",
    rows,
    note: `real RoundRobinPicker / LeastRequestPicker from @rngbalance/dns-pool, ${config.picks} picks x ${config.rounds} rounds (median), checksum ${sink}`,
  };
}
