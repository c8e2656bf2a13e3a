/** Pace of the demo: watchable by default, quick with --fast. */
export interface Pace {
  readonly interval: string;
  /** Calls in phase 1. */
  readonly phase1: number;
  /** Calls after the last new pod got its first call. */
  readonly afterPickup: number;
  /** Calls after the removed pods have exited. */
  readonly afterDrain: number;
  /** Calls of each short run of phase 4. */
  readonly contrast: number;
  /** How long each policy's load runs in phase 5, after its warm-up. */
  readonly slowPodLoadMs: number;
}

const NORMAL: Pace = {
  interval: "200ms",
  phase1: 12,
  afterPickup: 10,
  afterDrain: 6,
  contrast: 9,
  slowPodLoadMs: 5000,
};
const FAST: Pace = {
  interval: "20ms",
  phase1: 9,
  afterPickup: 10,
  afterDrain: 6,
  contrast: 6,
  slowPodLoadMs: 2000,
};

/** The quick pace for `--fast`, else the watchable default. */
export function paceFor(fast: boolean): Pace {
  return fast ? FAST : NORMAL;
}

/**
 * After SIGTERM, a pod keeps serving this long while reporting NOT_SERVING
 * to health checks, before it sends GOAWAY: what a preStop hook gives a
 * Kubernetes pod, so clients stop picking it before it closes.
 */
export const SHUTDOWN_DELAY_MS = 1000;

/** New pods must get calls within this, or the phase fails. */
export const PICKUP_LIMIT_MS = 3000;
/** How long any wait for calls may take before the demo gives up on it. */
export const WAIT_MS = 15_000;
