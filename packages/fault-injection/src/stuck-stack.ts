import type { ChildProcess } from "node:child_process";

/**
 * What a child process's main thread is running, even while its event loop
 * never turns (a synchronous loop): the child was started with
 * `--inspect-port=0` and its stderr piped to `stderr`; SIGUSR1 opens its
 * inspector (from a thread of its own, so a busy loop does not stop it),
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
  child.kill("SIGUSR1");
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    url = /Debugger listening on (ws:\/\/\S+)/.exec(stderr.text())?.[1];
  }
  if (!url) return "(its inspector did not open)";
  const WebSocketClass = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WebSocketClass) return "(no WebSocket in this Node to talk to its inspector)";
  const ws = new WebSocketClass(url);
  try {
    return await new Promise<string>((resolve) => {
      const timer = setTimeout(
        () => resolve("(the inspector did not pause it)"),
        Math.max(0, deadline - Date.now()),
      );
      ws.onerror = () => {
        clearTimeout(timer);
        resolve("(could not connect to its inspector)");
      };
      ws.onopen = () => {
        ws.send(JSON.stringify({ id: 1, method: "Debugger.enable" }));
        ws.send(JSON.stringify({ id: 2, method: "Debugger.pause" }));
      };
      // Frames name their script by id; Debugger.enable announces every script's URL first.
      const urls = new Map<string, string>();
      ws.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as {
          method?: string;
          params?: {
            scriptId?: string;
            url?: string;
            callFrames?: {
              functionName: string;
              url: string;
              location: { scriptId: string; lineNumber: number; columnNumber: number };
            }[];
          };
        };
        if (message.method === "Debugger.scriptParsed" && message.params?.scriptId) {
          urls.set(message.params.scriptId, message.params.url ?? "");
        }
        if (message.method !== "Debugger.paused") return;
        clearTimeout(timer);
        resolve(
          (message.params?.callFrames ?? [])
            .map(
              (f) =>
                `at ${f.functionName || "(anonymous)"} (${f.url || urls.get(f.location.scriptId) || "?"}:${f.location.lineNumber + 1}:${f.location.columnNumber + 1})`,
            )
            .join("\n"),
        );
      };
    });
  } finally {
    ws.close();
  }
}
