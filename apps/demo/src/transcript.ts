import type { Exit, ObservedCall } from "./client-run.js";
import type { Pod } from "./pods.js";
import type { Style } from "./style.js";

/**
 * What the demo prints: headings, explanations, checks, pod lines and the
 * client's calls, each labelled with the pod that answered.
 */
export class Transcript {
  /**
   * @param write writes one line of output.
   * @param podAt the pod at an address, to label the client's calls.
   */
  constructor(
    readonly style: Style,
    private readonly write: (line: string) => void,
    private readonly podAt: (address: string) => Pod | undefined,
  ) {}

  /** Prints one line (an empty one by default). */
  say(line = ""): void {
    this.write(line);
  }

  /** Prints a blank line and a bold "▶ " heading. */
  heading(text: string): void {
    this.say();
    this.say(this.style.bold(`▶ ${text}`));
  }

  /** Prints each line of `text` dimmed and indented. */
  explain(text: string): void {
    for (const line of text.split("\n")) this.say(this.style.dim(`  ${line}`));
  }

  /** Prints a ✓ or ✗ line. */
  check(ok: boolean, text: string): void {
    const { style } = this;
    this.say(`  ${ok ? style.green("✓") : style.red("✗")} ${text}`);
  }

  /** Prints lines of another program's output, dimmed behind a "│". */
  quote(lines: Iterable<string>): void {
    for (const line of lines) this.say(this.style.dim(`  │ ${line}`));
  }

  /** Awaits `wait`; when it says false, prints that the demo gave up waiting for `what`. */
  async must(wait: Promise<boolean>, what: string): Promise<boolean> {
    const ok = await wait;
    if (!ok) this.check(false, `gave up waiting for ${what}`);
    return ok;
  }

  /** One line about a pod: its label, address, pid and number, then `what`. */
  describePod(pod: Pod, what: string): string {
    const s = pod.server;
    const label = this.style.pod(pod.n, pod.label.padEnd(6));
    const line = `${s.address.padEnd(17)} pid ${String(s.child.pid).padEnd(7)} rn ${String(s.rn).padEnd(19)}  ${what}`;
    return `  ${label}   ${line.trimEnd()}`;
  }

  /** Prints one of the client's calls, after the label of the pod that answered. */
  readonly showCall = (call: ObservedCall): void => {
    const text = call.code === "OK" ? call.line : this.style.red(call.line);
    this.say(`  ${this.podLabel(call.address)} │ ${text}`);
  };

  /** Prints what the client's stderr says about DNS, and anything unexpected there. */
  readonly showClientStderr = (line: string): void => {
    // Of the --verbose events, show only what DNS says: the pool's view of the Service.
    const m = /^rng-client: (resolved .*|resolution failed.*)$/.exec(line);
    if (m) this.say(this.style.dim(`  ${"dns".padEnd(6)} │ pool ${m[1]}`));
    else if (!line.startsWith("rng-client: ")) this.say(this.style.red(`  client │ ${line}`));
  };

  private podLabel(address: string | undefined): string {
    const pod = address === undefined ? undefined : this.podAt(address);
    if (!pod) return "?".padEnd(6);
    return this.style.pod(pod.n, pod.label.padEnd(6));
  }
}

/** How a process exited: "code 0" or "signal SIGKILL". */
export function describeExit(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
}
