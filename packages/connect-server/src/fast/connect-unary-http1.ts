import type * as http from "node:http";
import { Code } from "@connectrpc/connect";
import { abandon } from "../escaped.js";
import { HeldRequestBytes, heldBytesRefused } from "../request-bytes.js";
import type { CallTransport } from "./call-transport.js";
import {
  type ConnectPlan,
  type ConnectResponseHeaders,
  ConnectUnaryCall,
  connectGetPlan,
  connectPostPlan,
} from "./connect-unary.js";
import { errorFromNodeReason } from "./errors.js";
import type { FastMethod } from "./fast-method.js";

// Connect unary calls over HTTP/1.1, on Node's http.IncomingMessage and
// ServerResponse, answered as connect-node's universalResponseToNodeResponse
// answers on them: writeHead(status, headers) with content-length, then the
// body; Node adds Date, Connection and Keep-Alive as it does for
// connect-node. What connect-node's HTTP/1.1 path adds around a call is
// done here too:
//
// - the call's signal aborts when the response closes (the client went
//   away, or the call is over), or the request errs ("aborted", ECONNRESET:
//   the reason is connect-node's `connectErrorFromNodeReason` of it);
// - a response ready before the request's body was read whole (an early
//   error, a GET answered before its end) first drains the body, up to
//   256 KiB, so the connection stays usable; a body left unread makes the
//   response `connection: close`, and the socket is half-closed, then
//   destroyed 500 ms later, so that the client can read the response;
// - the body's bytes are charged to the connection's buffer limits
//   (`chargeRequestBytes`, connect-handler's `heldBody`): held from the
//   first byte until the request ends, refused with RESOURCE_EXHAUSTED.

/** connect-node's limit on the bytes of an unread request body it drains before answering. */
const MAX_DRAIN_BYTES = 256 * 1024;
/** How long connect-node leaves a half-closed connection before destroying it. */
const CLOSE_DELAY_MS = 500;

/**
 * Starts serving a Connect unary POST over HTTP/1.1 if connect-node would
 * get as far as reading its body; returns false (request and response
 * untouched) otherwise.
 */
export function acceptConnectPostHttp1(
  m: FastMethod,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): boolean {
  const plan = connectPostPlan(m, req.headers);
  if (plan === undefined) return false;
  new Http1ConnectUnaryCall(m, req, res, plan);
  return true;
}

/**
 * Starts serving a Connect unary GET of a NO_SIDE_EFFECTS method over
 * HTTP/1.1 if connect-node would get as far as parsing its message; returns
 * false (untouched) otherwise. `query` is the URL after its `?`.
 */
export function acceptConnectGetHttp1(
  m: FastMethod,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  query: string,
): boolean {
  const plan = connectGetPlan(m, req.headers, query);
  if (plan === undefined) return false;
  new Http1ConnectUnaryCall(m, req, res, plan);
  return true;
}

/** An HTTP/1.1 request and its response, as a call's signal and context see them. */
class Http1CallTransport implements CallTransport {
  private gone: { readonly reason: unknown } | undefined;
  private listener: ((reason: unknown) => void) | undefined;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
  ) {}

  /** The response closed or the request erred: the signal aborts with `reason` (the first one wins). */
  close(reason: unknown): void {
    if (this.gone !== undefined) return;
    this.gone = { reason };
    const listener = this.listener;
    this.listener = undefined;
    listener?.(reason);
  }

  closedReason(): { readonly reason: unknown } | undefined {
    return this.gone;
  }

  onceClosed(listener: (reason: unknown) => void): void {
    this.listener = listener;
  }

  encrypted(): boolean {
    const socket = this.req.socket as { encrypted?: boolean };
    return socket.encrypted === true;
  }

  path(): string {
    return this.req.url ?? "";
  }

  nodeRequest(): http.IncomingMessage {
    return this.req;
  }

  /** The response can no longer be written: the client went away. */
  get closed(): boolean {
    return this.gone !== undefined || this.res.destroyed;
  }
}

/** A response waiting for the rest of its request's body to drain. */
interface PendingResponse {
  readonly status: number;
  readonly headers: ConnectResponseHeaders;
  readonly body: Uint8Array;
}

/** A Connect unary call over HTTP/1.1 (see the comment at the top of this file). */
class Http1ConnectUnaryCall extends ConnectUnaryCall {
  private readonly transport: Http1CallTransport;
  private readonly charge: ((delta: number) => boolean) | undefined;
  private readonly held: HeldRequestBytes | undefined;
  private pending: PendingResponse | undefined;
  private drained = 0;
  private finished = false;

  constructor(
    m: FastMethod,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    plan: ConnectPlan,
  ) {
    const observed = m.telemetry?.startCall(m.fullName, req.headers);
    const transport = new Http1CallTransport(req, res);
    super(m, transport, req.headers, plan, observed);
    this.transport = transport;
    // A GET's body is never read as its message (connect-node never reads it).
    this.charge = plan.getMessage === undefined ? m.chargeRequestBytes?.(req) : undefined;
    this.held = this.charge && new HeldRequestBytes(true);
    req.on("data", (chunk: Buffer) => this.guard(this.onData, chunk));
    req.on("end", () => this.guard(this.onEnd, undefined));
    req.on("error", (err: Error) => this.guard(this.onRequestError, err));
    res.once("finish", () => this.guard(this.onFinish, undefined));
    res.once("close", () => this.guard(this.onClose, undefined));
    this.start();
  }

  /** Runs a listener; an exception that escapes it (a bug) is reported and the response abandoned. */
  private guard<T>(listener: (this: this, arg: T) => void, arg: T): void {
    try {
      listener.call(this, arg);
    } catch (err) {
      this.escaped(err);
      abandon(this.res);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.pending === undefined) {
      this.data(chunk);
      return;
    }
    this.drained += chunk.byteLength;
    if (this.drained > MAX_DRAIN_BYTES) this.flushPending(false);
  }

  private onEnd(): void {
    this.release();
    if (this.pending !== undefined) this.flushPending(false);
    else this.end();
  }

  private onRequestError(err: Error): void {
    this.transport.close(errorFromNodeReason(err));
    this.release();
    if (this.pending !== undefined) this.flushPending(true);
    else if (!this.answered) this.giveUp();
  }

  private onFinish(): void {
    this.finished = true;
    this.observedEnd(this.code);
  }

  private onClose(): void {
    const errored = this.req.errored;
    this.transport.close(errored ? errorFromNodeReason(errored) : undefined);
    this.release();
    this.pending = undefined;
    if (!this.answered) this.giveUp();
    if (!this.finished) this.observedEnd(Code.Canceled);
  }

  protected override admit(chunk: Buffer): unknown {
    const charge = this.charge;
    if (charge === undefined || charge((this.held as HeldRequestBytes).push(chunk))) return undefined;
    return heldBytesRefused();
  }

  protected override settle(reason: unknown): void {
    super.settle(reason);
    this.release();
  }

  /** The call holds none of its request's bytes any more (the body ended, or was refused, or the call is over). */
  private release(): void {
    const held = this.held;
    if (held !== undefined && held.held > 0) (this.charge as (delta: number) => boolean)(held.release());
  }

  protected write(status: number, body: Uint8Array, touched: boolean): void {
    // connect-node's writes to a response that is gone go nowhere.
    if (this.transport.closed || this.res.writableEnded) return;
    const headers = this.responseHeaders(body.byteLength, touched, false);
    this.sentBytes = body.byteLength;
    const connection = headers.connection;
    if (
      !this.req.complete &&
      this.res.shouldKeepAlive &&
      String(connection ?? "").toLowerCase() !== "close"
    ) {
      // As connect-node: read the rest of the body before answering, so that the connection can go on.
      this.pending = { status, headers, body };
      this.drained = 0;
      this.req.resume();
      return;
    }
    this.send(status, headers, body);
  }

  /** The body ended, erred, or is too long to drain: answer, on a connection that closes if the body is still unread. */
  private flushPending(erred: boolean): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const socket = this.res.socket;
    if (!this.req.complete && socket !== null) {
      pending.headers.connection = "close";
      // The rest is never read.
      this.req.pause();
      if (!erred) {
        // Closing at once can make the client's TCP stack drop the response: half-close, then destroy.
        socket.destroySoon = () => {
          socket.end(() => setTimeout(() => socket.destroy(), CLOSE_DELAY_MS).unref());
        };
      }
    }
    this.send(pending.status, pending.headers, pending.body);
  }

  private send(status: number, headers: ConnectResponseHeaders, body: Uint8Array): void {
    if (this.transport.closed) return;
    const res = this.res;
    try {
      res.writeHead(status, headers);
    } catch (err) {
      // connect-node logs it and leaves the response unanswered; a connection cannot be left so.
      console.error(`handler for rpc ${this.m.method.name} of ${this.m.service.typeName} failed`, err);
      res.destroy();
      return;
    }
    res.end(body);
  }

  protected abandon(): void {
    this.res.destroy();
  }

  escaped(err: unknown): void {
    this.giveUp();
    this.m.onEscapedError(err, this.res, this.m.fullName);
  }
}
