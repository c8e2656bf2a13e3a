import { getAbortSignalReason } from "@connectrpc/connect/protocol";
import type { CallTransport } from "./call-transport.js";
import { deadlineError } from "./errors.js";

/**
 * A call's deadline and AbortSignal. The signal is made only when a handler
 * or an interceptor reads it (most unary handlers never do), and it is then
 * in the state connect's would be in: linked, as connect's
 * `createLinkedAbortController(deadline, request, shutdown)` links it, to
 * the grpc-timeout deadline, the transport's close (stream or connection) and the server's shutdown
 * signal; already aborted if one of them fired first, or if the call has
 * ended, with the reason connect's signal got.
 */
export class CallSignal {
  /** Deadline as an epoch time in ms, from grpc-timeout. */
  private readonly deadlineAt: number | undefined;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private onShutdown: (() => void) | undefined;
  private settled = false;
  /** Why the call's signal aborted or will abort: connect's `context.abort(reason)` at the end of a call. */
  private settledReason: unknown;

  /**
   * @param transport - what carries the call (a stream, an HTTP/1.1 exchange): its close aborts the signal.
   * @param shutdown - the server's shutdown signal, if it has one.
   * @param timeoutMsValue - the request's grpc-timeout in ms (as parseTimeout gives it), if any.
   */
  constructor(
    private readonly transport: CallTransport,
    private readonly shutdown: AbortSignal | undefined,
    private readonly timeoutMsValue: number | undefined,
  ) {
    this.deadlineAt = timeoutMsValue === undefined ? undefined : Date.now() + timeoutMsValue;
  }

  /** The call's signal, made on first use. */
  signal(): AbortSignal {
    if (this.controller !== undefined) return this.controller.signal;
    const c = new AbortController();
    this.controller = c;
    if (this.settled) {
      c.abort(this.settledReason);
      return c.signal;
    }
    // As connect's createLinkedAbortController(deadline, request, shutdown):
    // the first of them already aborted gives the reason.
    const transport = this.transport;
    const shutdown = this.shutdown;
    const passed = this.deadlinePassed();
    const closed = passed ? undefined : transport.closedReason();
    if (passed) c.abort(deadlineError());
    else if (closed !== undefined) c.abort(closed.reason);
    else if (shutdown?.aborted) c.abort(getAbortSignalReason(shutdown));
    else {
      if (this.deadlineAt !== undefined) {
        this.timer = setTimeout(onDeadline, this.deadlineAt - Date.now(), this);
      }
      // Closures, unlike the call's shared stream listeners: only a call
      // whose signal is read pays for them.
      transport.onceClosed((reason) => this.abortWith(reason));
      if (shutdown) {
        this.onShutdown = () => this.abortWith(getAbortSignalReason(shutdown));
        shutdown.addEventListener("abort", this.onShutdown);
      }
    }
    return c.signal;
  }

  /**
   * The call has its outcome: connect's `context.abort(reason)` (reason
   * undefined for a success). A signal made later is aborted already.
   */
  settle(reason: unknown): void {
    this.settled = true;
    if (this.controller === undefined) {
      // If the deadline passed first, connect's signal fired with that.
      this.settledReason = this.deadlinePassed() ? deadlineError() : reason;
      return;
    }
    this.abortWith(reason);
  }

  /** Aborts the signal if it exists and has not aborted yet; stops its timer and listeners. */
  abortWith(reason: unknown): void {
    clearTimeout(this.timer);
    if (this.onShutdown) this.shutdown?.removeEventListener("abort", this.onShutdown);
    const c = this.controller;
    if (c !== undefined && !c.signal.aborted) c.abort(reason);
  }

  /** What `context.timeoutMs()` returns: as connect, the deadline as a Date (whole ms), minus now. */
  timeoutMs(): number | undefined {
    return this.deadlineAt === undefined ? undefined : Math.trunc(this.deadlineAt) - Date.now();
  }

  /** The time left to the deadline, unrounded: the `timeoutMs` connect's `createHandlerContext` takes. */
  remainingMs(): number | undefined {
    return this.deadlineAt === undefined ? undefined : this.deadlineAt - Date.now();
  }

  private deadlinePassed(): boolean {
    if (this.deadlineAt === undefined) return false;
    // connect's createDeadlineSignal aborts at once for a timeout <= 0.
    return (this.timeoutMsValue as number) <= 0 || Date.now() >= this.deadlineAt;
  }
}

// Shared with every call (no closure per call): the timer passes the signal.
function onDeadline(signal: CallSignal): void {
  signal.abortWith(deadlineError());
}
