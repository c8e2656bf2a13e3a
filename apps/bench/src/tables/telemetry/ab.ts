/**
 * The telemetry table's A/B (see ab.child.ts): what the parent
 * asks the child for, and what it reports.
 */

/** The modes compared. */
export const AB_MODES = ["off", "api", "metrics", "metrics-no-sizes"] as const;
/** One of {@link AB_MODES}. */
export type AbMode = (typeof AB_MODES)[number];

/** What the parent asks for. */
export interface TelemetryAbConfig {
  readonly poolTarget: string;
  /** Endpoints the pools must have READY before the phases start. */
  readonly expected: number;
  readonly concurrency: number;
  /** Length of one phase (one mode's turn). */
  readonly phaseMs: number;
  /** Rounds: each mode runs once per round. */
  readonly rounds: number;
  /** Calls per pool before the first round, not measured (JIT, connections). */
  readonly warmupCalls: number;
  /** The pools compared (a subset of {@link AB_MODES}, in this order). */
  readonly modes: readonly AbMode[];
  /**
   * Run the SDK with its own (stock) attribute hash instead of the
   * workspace's patched one (see stock-hash.ts): what the metrics cost an
   * application whose @opentelemetry/sdk-metrics is not patched.
   */
  readonly stockHash: boolean;
}

/** One phase's figures. */
export interface AbPhase {
  readonly round: number;
  readonly mode: AbMode;
  readonly callsPerSecond: number;
  /** The process's user+system CPU over the phase ÷ calls. */
  readonly cpuUsPerCall: number;
  readonly errors: number;
}

/** The child's result. */
export interface TelemetryAbResult {
  readonly concurrency: number;
  /** The run used the SDK's stock attribute hash. */
  readonly stockHash: boolean;
  readonly phases: readonly AbPhase[];
}
