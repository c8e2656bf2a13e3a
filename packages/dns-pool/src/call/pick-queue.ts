import { Code, ConnectError } from "@connectrpc/connect";
import type { PickInfo } from "../balancer/picker.js";
import type { Clock, TimerHandle } from "../core/clock.js";
import { ConnectivityState } from "../core/connectivity.js";

/** Where the queue gets endpoints: the pool's endpoint set, or a fake. */
export interface PickSource<E> {
  /** The aggregate state. */
  readonly state: ConnectivityState;
  /** The current picker. */
  readonly picker: {
    /** A READY endpoint, or undefined. */
    pick(info?: PickInfo): E | undefined;
  };
  /** True once the pool is closed. */
  readonly closed: boolean;
  /** Starts connecting if not yet; true if it was not (a new picker is then in place). */
  activate(): boolean;
  /** UNAVAILABLE saying why no endpoint is READY. */
  unavailableError(): ConnectError;
}

interface Waiter<E> {
  readonly waitForReady: boolean;
  /** The waiting call, for pickers that pick by call (ring_hash). */
  readonly info: PickInfo | undefined;
  resolve(endpoint: E): void;
  reject(error: ConnectError): void;
}

/** A ref'd timer's delay: long, re-armed when it fires; it only keeps the process alive. */
const HOLD_MS = 2 ** 30;

/**
 * Calls waiting for a READY endpoint, as gRPC queues picks: they wait while
 * endpoints connect, and fail fast with UNAVAILABLE once every endpoint is
 * in TRANSIENT_FAILURE, unless `waitForReady` is set, in which case only
 * the deadline (DEADLINE_EXCEEDED) or cancellation ends the wait.
 */
export class PickQueue<E> {
  private waiters: Waiter<E>[] = [];
  private holdHandle: TimerHandle | undefined;

  /**
   * @param source - the endpoints' picker and state.
   * @param clock - deadline timers.
   * @param waitForReady - the `waitForReady` option.
   * @param target - for messages.
   */
  constructor(
    private readonly source: PickSource<E>,
    private readonly clock: Clock,
    private readonly waitForReady: boolean,
    private readonly target: string,
  ) {}

  /** Calls waiting now. */
  get size(): number {
    return this.waiters.length;
  }

  /**
   * A READY endpoint, as soon as there is one; rejects as gRPC does: at
   * once when the pool is closed or (without wait-for-ready) failing, with
   * DEADLINE_EXCEEDED after `timeoutMs`, CANCELED when `signal` aborts.
   * `info` is handed to every pick made for this call.
   */
  wait(signal: AbortSignal | undefined, timeoutMs: number | undefined, info?: PickInfo): Promise<E> {
    if (this.source.closed) return Promise.reject(this.closedError());
    if (this.source.activate()) {
      const endpoint = this.source.picker.pick(info);
      if (endpoint) return Promise.resolve(endpoint);
    }
    const waitForReady = this.waitForReady;
    if (!waitForReady && this.source.state === ConnectivityState.TRANSIENT_FAILURE) {
      return Promise.reject(this.source.unavailableError());
    }
    if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
    return new Promise<E>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const onAbort = () => settle(() => reject(ConnectError.from(signal?.reason, Code.Canceled)));
      const settle = (fn: () => void) => {
        this.clock.clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        if (this.waiters.length === 0) this.releaseProcess();
        fn();
      };
      const waiter: Waiter<E> = {
        waitForReady,
        info,
        resolve: (e) => settle(() => resolve(e)),
        reject: (err) => settle(() => reject(err)),
      };
      if (timeoutMs !== undefined) {
        timer = this.clock.setTimeout(() => {
          const why = this.source.unavailableError().rawMessage;
          waiter.reject(
            new ConnectError(
              `deadline of ${timeoutMs} ms exceeded while waiting for a ready endpoint: ${why}`,
              Code.DeadlineExceeded,
            ),
          );
        }, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort);
      this.waiters.push(waiter);
      this.holdProcessOpen();
    });
  }

  /** After a new picker: hands out endpoints if READY, fails the fail-fast waiters if failing. */
  serve(): void {
    if (this.waiters.length === 0) return;
    const state = this.source.state;
    if (state === ConnectivityState.READY) {
      for (const w of [...this.waiters]) {
        const endpoint = this.source.picker.pick(w.info);
        if (endpoint) w.resolve(endpoint);
      }
    } else if (state === ConnectivityState.TRANSIENT_FAILURE) {
      const err = this.source.unavailableError();
      for (const w of [...this.waiters]) if (!w.waitForReady) w.reject(err);
    }
  }

  /** Fails every waiting call (the pool is closing). */
  rejectAll(error: ConnectError): void {
    for (const w of [...this.waiters]) w.reject(error);
  }

  /** UNAVAILABLE: the pool is closed. */
  closedError(): ConnectError {
    return new ConnectError(`the pool for "${this.target}" is closed`, Code.Unavailable);
  }

  /**
   * A waiting call must keep the process alive, but the pool's own timers
   * (backoff, re-resolution) are unref'd so an idle pool never does: while
   * calls wait, one ref'd timer stands in for them.
   */
  private holdProcessOpen(): void {
    if (this.holdHandle) return;
    const arm = () => {
      this.holdHandle = this.clock.setTimeout(arm, HOLD_MS);
    };
    arm();
  }

  private releaseProcess(): void {
    this.clock.clearTimeout(this.holdHandle);
    this.holdHandle = undefined;
  }
}
