import type * as http2 from "node:http2";
import type { TimerHandle } from "../core/clock.js";
import type { Connection } from "./http2-connection.js";

/**
 * How many connections one endpoint keeps (gRFC A105 connection scaling,
 * plus a floor for addresses that spread connections over several servers).
 */
export interface ConnectionScaling {
  /**
   * At most this many connections per endpoint. A call that finds every
   * connection at the server's MAX_CONCURRENT_STREAMS opens another one
   * (one attempt at a time) instead of queueing in the connection; it
   * waits only while that connection is being set up. 1: one connection,
   * calls beyond the server's limit queue inside it (gRPC's behavior
   * before A105).
   */
  readonly max: number;
  /**
   * At least this many connections per endpoint, opened as soon as the
   * endpoint connects and kept open; calls spread over them (fewest open
   * streams first). For one address in front of several servers (a VIP,
   * an L4 balancer): each connection may land on another server.
   */
  readonly min: number;
  /**
   * A connection beyond `min` that carried no stream for this long is
   * closed (gracefully), so a burst does not leave connections behind.
   */
  readonly idleMs: number;
}

/** One connection per endpoint, as before gRFC A105. */
export const SINGLE_CONNECTION: ConnectionScaling = { max: 1, min: 1, idleMs: 30_000 };

/** True for a setting that needs the scaling machinery (more than one connection may exist). */
export function scales(s: ConnectionScaling | undefined): s is ConnectionScaling {
  return s !== undefined && s.max > 1;
}

/** A connection that can take one more stream without the server making it wait. */
export function hasRoom(c: Connection): boolean {
  return !c.closing && (c.openStreams ?? 0) < (c.maxConcurrentStreams ?? Number.POSITIVE_INFINITY);
}

/**
 * The connection for the next stream (gRFC A105): the oldest with room,
 * or, with `spread`, the one with the fewest open streams among those with
 * room (ties to the oldest). Undefined when every connection is full.
 */
export function pickConnection(
  first: Connection,
  others: readonly Connection[] | undefined,
  spread: boolean,
): Connection | undefined {
  if (!spread) {
    if (hasRoom(first)) return first;
    if (others) for (const c of others) if (hasRoom(c)) return c;
    return undefined;
  }
  let best: Connection | undefined = hasRoom(first) ? first : undefined;
  if (others) {
    for (const c of others) {
      if (hasRoom(c) && (best === undefined || (c.openStreams ?? 0) < (best.openStreams ?? 0))) best = c;
    }
  }
  return best;
}

/** A stream waiting in the subchannel for a connection with room. */
export interface QueuedStream {
  readonly headers: http2.OutgoingHttpHeaders;
  readonly options: Omit<http2.ClientSessionRequestOptions, "signal">;
  readonly track: boolean;
  resolve(stream: http2.ClientHttp2Stream): void;
  reject(err: Error): void;
}

/**
 * A scaling subchannel's state, in one object that only endpoints with
 * `maxConnectionsPerEndpoint` > 1 allocate (a single-connection endpoint
 * holds one undefined field instead).
 */
export class ScaledConnections {
  /** READY connections besides the subchannel's lead one, oldest first. */
  readonly extras: Connection[] = [];
  /** Streams waiting for a connection with room, in arrival order. */
  readonly queue: QueuedStream[] = [];
  /** Since when each extra connection beyond `min` has carried no stream. */
  readonly idleSince = new Map<Connection, number>();
  /** The sweep that closes idle extras, while one is due. */
  idleTimer: TimerHandle | undefined;
  /** A connection attempt is in flight (never more than one, gRFC A105). */
  attempting = false;

  /** @param config - the endpoint's scaling settings. */
  constructor(readonly config: ConnectionScaling) {}
}
