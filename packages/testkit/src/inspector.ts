import type { ChildProcess } from "node:child_process";

/**
 * Node's inspector of a running Node child process, opened on demand. The
 * child must have been started with `--inspect-port=127.0.0.1:0` (on its
 * command line or in `NODE_OPTIONS`; see {@link INSPECT_ON_DEMAND}) and its
 * stderr piped: SIGUSR1 then opens the inspector on a free port, from a
 * thread of its own (so even a busy loop does not stop it), and Node prints
 * `Debugger listening on ws://…` on stderr. A second SIGUSR1 prints nothing
 * new; the URL already printed stays valid, so it is read from the text
 * first.
 *
 * Resolves with the WebSocket URL, or undefined when the process has exited
 * or nothing came within `timeoutMs`.
 */
export async function openInspector(
  child: ChildProcess,
  stderrText: () => string,
  timeoutMs = 5000,
): Promise<string | undefined> {
  const listening = () => /Debugger listening on (ws:\/\/\S+)/.exec(stderrText())?.[1];
  let url = listening();
  if (url) return url;
  if (child.exitCode !== null || child.signalCode !== null) return undefined;
  child.kill("SIGUSR1");
  const deadline = Date.now() + timeoutMs;
  while (!url && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    url = listening();
  }
  return url;
}

/**
 * What a Node child needs in `NODE_OPTIONS` for {@link openInspector}: the
 * port it opens on SIGUSR1 is a free one on loopback (never the default 9229,
 * which two processes cannot share). Nothing listens until the signal.
 */
export const INSPECT_ON_DEMAND = "--inspect-port=127.0.0.1:0";

/** A child's environment additions for {@link openInspector}: `NODE_OPTIONS` with {@link INSPECT_ON_DEMAND}, after this process's own. */
export function inspectOnDemandEnv(): { NODE_OPTIONS: string } {
  return { NODE_OPTIONS: [process.env.NODE_OPTIONS, INSPECT_ON_DEMAND].filter(Boolean).join(" ") };
}

/** A message from the inspector: a command's answer (with its id) or an event. */
export interface InspectorMessage {
  readonly id?: number;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  readonly result?: unknown;
  readonly error?: { readonly message: string };
}

/**
 * Sends `commands` in order over one inspector WebSocket session and
 * resolves when `done` says a message ends the exchange (by default: the
 * answer to the last command), with that message; rejects when the session
 * fails, an answer is an error, or `timeoutMs` passes first.
 */
export async function inspectorSession(
  url: string,
  commands: readonly { readonly method: string; readonly params?: Record<string, unknown> }[],
  options: { readonly timeoutMs?: number; readonly done?: (message: InspectorMessage) => boolean } = {},
): Promise<InspectorMessage> {
  const WebSocketClass = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WebSocketClass) throw new Error("no WebSocket in this Node to talk to the inspector");
  const done = options.done ?? ((m: InspectorMessage) => m.id === commands.length);
  const ws = new WebSocketClass(url);
  try {
    return await new Promise<InspectorMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the inspector did not answer within ${options.timeoutMs ?? 5000} ms`)),
        options.timeoutMs ?? 5000,
      );
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        f();
      };
      ws.onerror = () => settle(() => reject(new Error(`could not talk to the inspector at ${url}`)));
      // The process died or closed the session before the answer: say so now, not at the timeout.
      ws.onclose = () => settle(() => reject(new Error(`the inspector at ${url} closed the session`)));
      ws.onopen = () => {
        commands.forEach((c, i) => {
          ws.send(JSON.stringify({ id: i + 1, method: c.method, ...(c.params ? { params: c.params } : {}) }));
        });
      };
      ws.onmessage = (event) => {
        try {
          const message = JSON.parse(String(event.data)) as InspectorMessage;
          if (message.error) {
            const error = message.error;
            settle(() => reject(new Error(`inspector: ${error.message}`)));
          } else if (done(message)) settle(() => resolve(message));
        } catch (err) {
          settle(() => reject(err));
        }
      };
    });
  } finally {
    ws.close();
  }
}

/**
 * Runs a full, memory-reducing garbage collection in a Node child process
 * through its inspector (`HeapProfiler.collectGarbage`), for a check that
 * tells memory still in use from garbage V8 has not collected yet: a
 * server's RSS after a burst of short-lived objects can stay tens of MiB
 * up until V8 next runs a full GC, which an idle process may not do for a
 * long time. Resolves true once it ran, false when the inspector could not
 * be opened (see {@link openInspector} for what the child needs).
 */
export async function collectGarbage(
  child: ChildProcess,
  stderrText: () => string,
  timeoutMs = 5000,
): Promise<boolean> {
  const url = await openInspector(child, stderrText, timeoutMs);
  if (!url) return false;
  await collectGarbageAt(url, timeoutMs);
  return true;
}

/** {@link collectGarbage} through an inspector already open at `url` (what {@link openInspector} resolved with). */
export async function collectGarbageAt(url: string, timeoutMs = 5000): Promise<void> {
  await inspectorSession(url, [{ method: "HeapProfiler.collectGarbage" }], { timeoutMs });
}
