import { parseArgs } from "node:util";

/** What the demo's command line asks for. */
export interface DemoConfig {
  /** Short intervals and fewer calls: for tests and the impatient. */
  readonly fast: boolean;
  /** After setting up, take commands (scale N, kill, quit) from stdin. */
  readonly interactive: boolean;
}

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
  --fast          short intervals and fewer calls (about 10 s in all)
  --interactive   after phase 1, type commands instead: scale N, kill, quit
  -h, --help      print this help

Colours only on a terminal, and never with NO_COLOR set.
Exit status: 0 when every phase behaved as described, 1 otherwise,
2 for a bad flag, 130 when interrupted.`;

/** A bad flag; the message says which. */
export class FlagError extends Error {
  override readonly name = "FlagError";
}

/** Parses the demo's flags. @throws FlagError */
export function parseDemoFlags(
  argv: readonly string[],
): { help: true } | { help: false; config: DemoConfig } {
  try {
    const { values } = parseArgs({
      // `pnpm demo -- --fast` passes the "--" on.
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        fast: { type: "boolean" },
        interactive: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) return { help: true };
    return { help: false, config: { fast: values.fast === true, interactive: values.interactive === true } };
  } catch (err) {
    const e = err as Error & { code?: string };
    const flag = /'(-[^' ]+)/.exec(e.message)?.[1];
    if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new FlagError(`unknown flag ${flag}`);
    if (e.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
      throw new FlagError(`unexpected argument: ${e.message}`);
    throw new FlagError(e.message);
  }
}
