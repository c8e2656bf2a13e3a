import type * as http2 from "node:http2";
import type {
  Connection,
  ConnectionFactory,
  Http2ConnectionListener,
  Http2ConnectionOptions,
} from "../connection/http2-connection.js";

/**
 * A connection that never touches the network, for tests of the
 * subchannel's state machine: the test plays the server with `settings()`,
 * `goaway()` and `drop()`.
 */
export class FakeConnection implements Connection {
  /** True once closing or gone. */
  closing = false;
  /** True after `becameReady()`. */
  ready = false;
  /** How `close()` was asked: undefined while not asked. */
  closedGracefully: boolean | undefined;
  /** What liveness says; change it with `setSuspect()`. */
  suspect = false;

  /**
   * @param options - what the subchannel dialed with.
   * @param listener - the subchannel's listener.
   */
  constructor(
    readonly options: Http2ConnectionOptions,
    private readonly listener: Http2ConnectionListener,
  ) {}

  /** The server's SETTINGS arrive. */
  settings(): void {
    this.listener.onSettings(this);
  }

  /** The server sends GOAWAY, with an HTTP/2 error code (default NO_ERROR). */
  goaway(errorCode = 0): void {
    this.closing = true;
    this.listener.onGoaway(this, errorCode);
  }

  /** The connection closes, with `error` (e.g. ECONNREFUSED before settings). */
  drop(error?: Error): void {
    if (this.closing && this.closedGracefully !== undefined) return;
    this.closing = true;
    this.listener.onClose(this, error);
  }

  /** Liveness doubts (true) or trusts (false) the server again; reported to the subchannel. */
  setSuspect(suspect: boolean): void {
    if (this.suspect === suspect) return;
    this.suspect = suspect;
    this.listener.onSuspectChange(this);
  }

  /** Fake connections carry no streams. */
  request(
    _headers: http2.OutgoingHttpHeaders,
    _options: Omit<http2.ClientSessionRequestOptions, "signal">,
    _track: boolean,
  ): http2.ClientHttp2Stream {
    throw new Error("a FakeConnection carries no streams");
  }

  /** Nothing to note. */
  noteRead(): void {}

  /** Marks it ready. */
  becameReady(): void {
    this.ready = true;
  }

  /** Nothing to stop. */
  stopKeepalive(): void {}

  /** Closes at once. */
  close(graceful: boolean): Promise<void> {
    this.closedGracefully = graceful;
    this.closing = true;
    this.listener.onClose(this, undefined);
    return Promise.resolve();
  }
}

/** Dials {@link FakeConnection}s and keeps them, newest last. */
export class FakeDialer {
  /** Every connection dialed. */
  readonly connections: FakeConnection[] = [];

  /** The factory to pass as the subchannel's `dial` option. */
  readonly dial: ConnectionFactory = (options, listener) => {
    const c = new FakeConnection(options, listener);
    this.connections.push(c);
    return c;
  };

  /** The newest connection. */
  get last(): FakeConnection {
    const c = this.connections.at(-1);
    if (!c) throw new Error("nothing dialed yet");
    return c;
  }
}
