import { Code, ConnectError } from "@connectrpc/connect";
import { type Clock, sleep } from "./clock.js";
import type { Http1Connections } from "./http1-connections.js";
import type { Http2Sessions } from "./http2-sessions.js";
import type { Logger } from "./log.js";

/** After the drain deadline, how long handlers get to answer UNAVAILABLE before their calls are refused. */
export const CUT_GRACE_MS = 250;
/** Why calls cut by a drain end, as the client sees it. */
export const SHUTTING_DOWN = "the server is shutting down: retry on another instance";
/** How often a drain looks whether every connection has closed. */
const POLL_MS = 10;

/** The two drain settings of the server, in milliseconds (see `ConnectServerSettings`). */
export interface DrainSettings {
  /** How long to serve with health NOT_SERVING before GOAWAY. */
  readonly shutdownDelayMs: number;
  /** How long in-flight calls may run after GOAWAY. */
  readonly drainTimeoutMs: number;
}

/** What a drain acts on: the parts of a running server it winds down, in order. */
export interface DrainParts {
  readonly logger: Logger;
  /** Turned NOT_SERVING first, so load balancers and DNS see the drain before anything closes. */
  readonly health: { shutdown(): void };
  /** Stops accepting; settles once every connection it accepted has closed. */
  readonly listener: { close(): Promise<void> };
  /** The HTTP/2 connections: GOAWAY, then the cut of those still open at the deadline. */
  readonly http2: Pick<Http2Sessions, "size" | "goawayAll" | "cutAll" | "stop">;
  /** The HTTP/1.1 connections: closed once idle, destroyed at the deadline. */
  readonly http1: Pick<Http1Connections, "size" | "startDrain" | "closeIdle" | "destroyAll">;
  /** Aborted at the deadline: every handler's signal then fires with UNAVAILABLE. */
  readonly shutdown: AbortController;
  /** Stops what is left once every connection has closed (sweeps, reporters, the HTTP/1.1 server). */
  stop(): void;
}

/**
 * Drains a server: health NOT_SERVING, wait `shutdownDelayMs`, stop
 * accepting (closing connections that never sent a request), GOAWAY every
 * HTTP/2 connection and close idle HTTP/1.1 ones as they become idle, let
 * in-flight calls finish for at most `drainTimeoutMs`, then abort the
 * handlers' signals with UNAVAILABLE, give them {@link CUT_GRACE_MS} to
 * answer, and cut every connection still open. Resolves once every
 * connection has closed; logs "draining" and "drained" (with how many
 * connections were cut).
 */
export async function drainServer(parts: DrainParts, settings: DrainSettings, clock: Clock): Promise<void> {
  const { logger, health, listener, http1, http2 } = parts;
  const started = clock.now();
  http1.startDrain();
  health.shutdown();
  const { shutdownDelayMs, drainTimeoutMs } = settings;
  logger.log("info", "draining", { shutdownDelayMs, drainTimeoutMs });
  if (shutdownDelayMs) await sleep(clock, shutdownDelayMs);
  // Stops accepting, and closes connections still being detected: no call is on them.
  const closed = listener.close();
  // GOAWAY: the client may not open new streams here, and each
  // connection closes once its open streams have finished.
  http2.goawayAll();
  const open = () => http2.size + http1.size;
  const closeIdleHttp1 = () => http1.closeIdle();
  await waitWhile(clock, open, clock.now() + drainTimeoutMs, closeIdleHttp1);
  // Connections the deadline caught with calls still open.
  const cut = open();
  if (cut > 0) {
    // The deadline: handlers see their signal abort with UNAVAILABLE, and
    // get a moment to answer with it; whatever is left is refused.
    parts.shutdown.abort(new ConnectError(SHUTTING_DOWN, Code.Unavailable));
    await waitWhile(clock, open, clock.now() + CUT_GRACE_MS, closeIdleHttp1);
    http2.cutAll(SHUTTING_DOWN);
    http1.destroyAll();
  }
  await closed;
  http2.stop();
  parts.stop();
  logger.log("info", "drained", { tookMs: clock.now() - started, connectionsCut: cut });
}

/** Runs `tick` and waits while `open()` counts connections, until `deadline`. */
async function waitWhile(
  clock: Clock,
  open: () => number,
  deadline: number,
  tick: () => void,
): Promise<void> {
  while (open() > 0 && clock.now() < deadline) {
    tick();
    await sleep(clock, POLL_MS);
  }
}
