import type * as http2 from "node:http2";
import type { Logger } from "./log.js";

/**
 * What `Http2Sessions` knows of one connection, read and updated by each
 * part of its policy (pings, rapid reset, timers).
 */
export interface SessionState {
  readonly session: http2.ServerHttp2Session;
  /** Open streams, each with whether it is a gRPC call (not gRPC-Web, not Connect). */
  readonly streams: Map<http2.ServerHttp2Stream, boolean>;
  readonly opened: number;
  /** When the last call ended (or the connection opened), for the idle timeout. */
  idleSince: number;
  /** Set by our own PING while unanswered: when it was sent. */
  pingSentAt: number | undefined;
  lastKeepaliveAt: number;
  /** Ping enforcement: when the client last pinged, and the socket's bytes written then. */
  lastClientPingAt: number;
  bytesWrittenAtClientPing: number;
  ownPingsSinceClientPing: number;
  pingStrikes: number;
  /** Rapid-reset accounting: a token bucket (see http2-rapid-reset.ts). */
  resetTokens: number;
  resetTokensAt: number;
  resetsSinceProbe: number;
  closing: boolean;
}

/**
 * Destroys a connection that tripped a defence or stopped answering, and
 * logs why (once: a destroyed session is left alone).
 */
export function cutSession(
  state: SessionState,
  logger: Logger,
  msg: string,
  fields: Record<string, unknown>,
): void {
  if (state.session.destroyed) return;
  logger.log("warn", msg, { remote: remoteOf(state.session), ...fields });
  state.closing = true;
  state.session.destroy();
  // destroy() ends the session; this makes sure the file descriptor goes too.
  state.session.socket?.destroy();
}

/** The peer's address and port, for logs ("?" once the socket is gone). */
export function remoteOf(session: http2.ServerHttp2Session): string {
  const s = session.socket;
  return s ? `${s.remoteAddress}:${s.remotePort}` : "?";
}
