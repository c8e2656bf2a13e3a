import { FlagError, type FlagSpec, parseFlags, renderFlagTable } from "@rngbalance/cli";

/** What the demo's command line asks for. */
export interface DemoConfig {
  /** Short intervals and fewer calls: for tests and the impatient. */
  readonly fast: boolean;
  /** After setting up, take commands (scale N, kill, quit) from stdin. */
  readonly interactive: boolean;
}

/** The demo's flags, from which the parser and `--help` both come. */
export const DEMO_FLAGS = {
  fast: { type: "boolean", help: "short intervals and fewer calls (about 10 s in all)" },
  interactive: { type: "boolean", help: "after phase 1, type commands instead: scale N, kill, quit" },
} as const satisfies Record<string, FlagSpec>;

/** Usage text of `pnpm demo --help`. */
export const USAGE = `Usage: pnpm demo [flags]      (or: node apps/demo/dist/main.js [flags])

Client-side DNS load balancing on one machine, no Kubernetes and no root:
an embedded DNS server plays kube-dns for the headless Service
"rng-headless", rng-server processes play the pods on 127.0.0.2, .3, ...
(Linux routes all of 127/8 to the loopback interface), and the real
rng-client calls them through dns:///, as a grpc-go client would.

Phases:
  1. round_robin over 3 pods
  2. scale 3 -> 5: how long until the new pods get calls
  3. scale 5 -> 1, gracefully (DNS first, then SIGTERM): no failed call
  4. the same fleet with pick_first, and with a passthrough target
Then everything stops and a table sums it up.

Flags:
${renderFlagTable(DEMO_FLAGS)}

Colours only on a terminal, and never with NO_COLOR set.
Exit status: 0 when every phase behaved as described, 1 otherwise,
2 for a bad flag, 130 when interrupted.`;

export { FlagError };

/** Parses the demo's flags. @throws FlagError */
export function parseDemoFlags(
  argv: readonly string[],
): { help: true } | { help: false; config: DemoConfig } {
  const parsed = parseFlags(DEMO_FLAGS, argv);
  if (parsed.help) return { help: true };
  return { help: false, config: { fast: parsed.values.fast, interactive: parsed.values.interactive } };
}
