import { Code, ConnectError } from "@connectrpc/connect";
import type { Address } from "../resolver/address.js";
import type { Resolver, ResolverListener } from "../resolver/resolver.js";

/**
 * A resolver a test drives: `push()` delivers addresses, `fail()` an
 * error; it records `resolveNow()` calls and `close()`. Addresses pushed
 * before `start()` are what `start()` delivers: a pool created on it then
 * begins with them, as with a real resolver's first answer.
 */
export class FakeResolver implements Resolver {
  /** The listener given to `start()`. */
  listener: ResolverListener | undefined;
  /** How many times `resolveNow()` was called. */
  resolveNowCalls = 0;
  /** True after `close()`. */
  closed = false;
  /** The resolution pushed before `start()`, delivered by it. */
  private pending: { addresses: Address[]; ttlSeconds: number | undefined } | undefined;

  /** Remembers the listener, and delivers the resolution pushed before, if any. */
  start(listener: ResolverListener): void {
    this.listener = listener;
    const pending = this.pending;
    this.pending = undefined;
    if (pending) listener.onResolution(pending);
  }

  /** Counts the request. */
  resolveNow(): void {
    this.resolveNowCalls++;
  }

  /** Marks it closed. */
  close(): void {
    this.closed = true;
  }

  /** Delivers a resolution: "host:port" strings (IPv4) or addresses; before `start()`, keeps it for `start()`. */
  push(addresses: readonly (string | Address)[], ttlSeconds?: number): void {
    const resolution = { addresses: addresses.map(toAddress), ttlSeconds };
    if (this.listener) this.listener.onResolution(resolution);
    else this.pending = resolution;
  }

  /** Delivers a warning (UNAVAILABLE with `message`): something optional does not work. */
  warn(message: string): void {
    if (!this.listener) throw new Error("FakeResolver.warn before start()");
    this.listener.onWarning?.(new ConnectError(message, Code.Unavailable));
  }

  /** Delivers a resolution error (UNAVAILABLE with `message`). */
  fail(message: string): void {
    if (!this.listener) throw new Error("FakeResolver.fail before start()");
    this.listener.onResolutionError(new ConnectError(message, Code.Unavailable));
  }
}

function toAddress(a: string | Address): Address {
  if (typeof a !== "string") return a;
  const i = a.lastIndexOf(":");
  return { host: a.slice(0, i), port: Number(a.slice(i + 1)) };
}
