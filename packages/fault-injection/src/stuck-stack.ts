import type { ChildProcess } from "node:child_process";
import { inspectorSession, openInspector } from "@rngbalance/testkit";

/**
 * What a child process's main thread is running, even while its event loop
 * never turns (a synchronous loop): the child was started with
 * `--inspect-port=0` and its stderr piped to `stderr`; SIGUSR1 opens its
 * inspector (testkit's `openInspector`: from a thread of its own, so a busy loop does not stop it),
 * and `Debugger.pause` interrupts the running JavaScript and reports its
 * call frames. (A diagnostic report on a signal would not do: Node writes it
 * from a JavaScript signal listener, which waits for the loop.)
 *
 * Resolves with one line per frame, innermost first, or with why none came.
 */
export async function captureStuckStack(
  child: ChildProcess,
  stderr: { readonly text: () => string },
  timeoutMs = 5000,
): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return "(the process had exited)";
  const deadline = Date.now() + timeoutMs;
  const url = await openInspector(child, stderr.text, timeoutMs);
  if (!url) return "(its inspector did not open)";
  // Frames name their script by id; Debugger.enable announces every script's URL first.
  const urls = new Map<string, string>();
  try {
    const paused = await inspectorSession(
      url,
      [{ method: "Debugger.enable" }, { method: "Debugger.pause" }],
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        done: (m) => {
          const p = m.params as { scriptId?: string; url?: string } | undefined;
          if (m.method === "Debugger.scriptParsed" && p?.scriptId) urls.set(p.scriptId, p.url ?? "");
          return m.method === "Debugger.paused";
        },
      },
    );
    const frames = (paused.params?.callFrames ?? []) as {
      functionName: string;
      url: string;
      location: { scriptId: string; lineNumber: number; columnNumber: number };
    }[];
    return frames
      .map(
        (f) =>
          `at ${f.functionName || "(anonymous)"} (${f.url || urls.get(f.location.scriptId) || "?"}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`,
      )
      .join("\n");
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/did not answer/.test(message)) return "(the inspector did not pause it)";
    if (message.startsWith("inspector:")) return `(${message})`;
    return "(could not connect to its inspector)";
  }
}
