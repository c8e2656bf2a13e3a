import { EventEmitter } from "node:events";
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
   * The server's MAX_CONCURRENT_STREAMS; change it with
   * `setMaxConcurrentStreams()`. Undefined (the default): the fake carries
   * no streams and `request()` throws, as a test of states alone wants.
   */
  maxConcurrentStreams: number | undefined;
  /** Streams open now (see `request()` and `endStream()`). */
  openStreams = 0;
  /** Streams opened on it, in all. */
  streamsOpened = 0;
  /** Its open streams, oldest first. */
  readonly streams: FakeStream[] = [];

  /**
   * True when `close()` reports the close only once `finishClose()` runs,
   * as a real socket reports it a turn (or a handshake) later. Default false:
   * `close()` reports it at once.
   */
  deferClose = false;
  private closeReported = false;

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
    this.closeReported = true;
    this.listener.onClose(this, error);
  }

  /** Liveness doubts (true) or trusts (false) the server again; reported to the subchannel. */
  setSuspect(suspect: boolean): void {
    if (this.suspect === suspect) return;
    this.suspect = suspect;
    this.listener.onSuspectChange(this);
  }

  /**
   * With `maxConcurrentStreams` set: a {@link FakeStream} (counted until
   * `endStream()`); a stream beyond the limit is counted too, as a real
   * connection would queue it. Otherwise throws: fake connections carry no
   * streams.
   */
  request(
    headers: http2.OutgoingHttpHeaders,
    _options: Omit<http2.ClientSessionRequestOptions, "signal">,
    _track: boolean,
  ): http2.ClientHttp2Stream {
    if (this.maxConcurrentStreams === undefined) throw new Error("a FakeConnection carries no streams");
    if (this.closing) throw new Error("the session is closing");
    const stream = new FakeStream(this, headers);
    this.openStreams++;
    this.streamsOpened++;
    this.streams.push(stream);
    return stream as unknown as http2.ClientHttp2Stream;
  }

  /** The server ends `stream` (default: the oldest open one): a slot frees up. */
  endStream(stream: FakeStream | undefined = this.streams[0]): void {
    if (stream === undefined) throw new Error("no open stream to end");
    const i = this.streams.indexOf(stream);
    if (i < 0) return;
    this.streams.splice(i, 1);
    this.openStreams--;
    stream.emit("close");
    this.listener.onCapacity?.(this);
  }

  /** The server's SETTINGS change MAX_CONCURRENT_STREAMS. */
  setMaxConcurrentStreams(max: number): void {
    this.maxConcurrentStreams = max;
    this.listener.onCapacity?.(this);
  }

  /** Nothing to note. */
  noteRead(): void {}

  /** Marks it ready. */
  becameReady(): void {
    this.ready = true;
  }

  /** Nothing to stop. */
  stopKeepalive(): void {}

  /** Closes: at once, or with `deferClose` when `finishClose()` runs. */
  close(graceful: boolean): Promise<void> {
    this.closedGracefully = graceful;
    this.closing = true;
    if (!this.deferClose) this.finishClose();
    return Promise.resolve();
  }

  /** Reports the close that `close()` asked for (once; nothing if already reported). */
  finishClose(): void {
    if (this.closeReported || this.closedGracefully === undefined) return;
    this.closeReported = true;
    this.listener.onClose(this, undefined);
  }
}

/** A stream of a {@link FakeConnection}: its headers, and "close" when ended. */
export class FakeStream extends EventEmitter {
  /**
   * @param connection - the connection it is on.
   * @param headers - what it was opened with.
   */
  constructor(
    readonly connection: FakeConnection,
    readonly headers: http2.OutgoingHttpHeaders,
  ) {
    super();
  }
}

/** Dials {@link FakeConnection}s and keeps them, newest last. */
export class FakeDialer {
  /** Every connection dialed. */
  readonly connections: FakeConnection[] = [];

  /**
   * @param maxConcurrentStreams - given to every connection it dials (see
   *   {@link FakeConnection.maxConcurrentStreams}). Default: none, the
   *   connections carry no streams.
   */
  constructor(
    private readonly maxConcurrentStreams?: number,
    /** Every connection it dials reports `close()` only at `finishClose()` (see {@link FakeConnection.deferClose}). Default false. */
    private readonly deferClose = false,
  ) {}

  /** The factory to pass as the subchannel's `dial` option. */
  readonly dial: ConnectionFactory = (options, listener) => {
    const c = new FakeConnection(options, listener);
    c.maxConcurrentStreams = this.maxConcurrentStreams;
    c.deferClose = this.deferClose;
    this.connections.push(c);
    return c;
  };

  /** Reports every close still deferred (see {@link FakeConnection.finishClose}), oldest first. */
  finishCloses(): void {
    for (const c of this.connections) c.finishClose();
  }

  /** The newest connection. */
  get last(): FakeConnection {
    const c = this.connections.at(-1);
    if (!c) throw new Error("nothing dialed yet");
    return c;
  }
}
