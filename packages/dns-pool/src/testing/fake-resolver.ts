import { Code, ConnectError } from "@connectrpc/connect";
import type { Address } from "../resolver/address.js";
import type { Resolver, ResolverListener } from "../resolver/resolver.js";

/**
 * A resolver a test drives: `push()` delivers addresses, `fail()` an
 * error; it records `resolveNow()` calls and `close()`.
 */
export class FakeResolver implements Resolver {
  /** The listener given to `start()`. */
  listener: ResolverListener | undefined;
  /** How many times `resolveNow()` was called. */
  resolveNowCalls = 0;
  /** True after `close()`. */
  closed = false;

  /** Remembers the listener. */
  start(listener: ResolverListener): void {
    this.listener = listener;
  }

  /** Counts the request. */
  resolveNow(): void {
    this.resolveNowCalls++;
  }

  /** Marks it closed. */
  close(): void {
    this.closed = true;
  }

  /** Delivers a resolution: "host:port" strings (IPv4) or addresses. */
  push(addresses: readonly (string | Address)[], ttlSeconds?: number): void {
    if (!this.listener) throw new Error("FakeResolver.push before start()");
    this.listener.onResolution({ addresses: addresses.map(toAddress), ttlSeconds });
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
