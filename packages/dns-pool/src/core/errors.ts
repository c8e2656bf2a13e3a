import { constants as h2 } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/** A malformed target or option: what is wrong and how it should look. */
export function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** How long a rendered value may get in a message before it is cut. */
const MAX_RENDERED = 80;

/**
 * A value as an error message shows what was given: JSON-ish, with its
 * type, so that `"1000"` (a string) is not mistaken for the number 1000:
 * `"1000" (a string)`, `-1 (a number)`, `{"service":1} (an object)`,
 * `a function`, `a Map` (an instance shows its class).
 */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  switch (typeof value) {
    case "string":
      return `${cut(JSON.stringify(value))} (a string)`;
    case "number":
      return `${String(value)} (a number)`;
    case "boolean":
      return `${String(value)} (a boolean)`;
    case "bigint":
      return `${String(value)}n (a bigint)`;
    case "symbol":
      return `${String(value)} (a symbol)`;
    case "function":
      return value.name ? `a function (${value.name})` : "a function";
  }
  if (Array.isArray(value)) return `${json(value)} (an array)`;
  const ctor = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor
    ?.name;
  if (ctor && ctor !== "Object") return `a ${ctor}`;
  return `${json(value)} (an object)`;
}

function json(value: object): string {
  try {
    return cut(JSON.stringify(value) ?? String(value));
  } catch {
    // A cycle, or a BigInt inside.
    return Array.isArray(value) ? "[...]" : "{...}";
  }
}

function cut(text: string): string {
  return text.length <= MAX_RENDERED ? text : `${text.slice(0, MAX_RENDERED - 3)}...`;
}

/** Node's error as text: "connect ECONNREFUSED 127.0.0.2:8081". */
export function describeError(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Errors of calls that never reached a server: no connection could carry
 * the request. Only the pool makes them, so identity marks them reliably,
 * through connect-node, which passes ConnectError instances on unchanged.
 */
const unsent = new WeakSet<ConnectError>();

/** UNAVAILABLE for a call that was never sent, so retrying it elsewhere is safe. */
export function unsentError(message: string): ConnectError {
  const err = new ConnectError(message, Code.Unavailable);
  unsent.add(err);
  return err;
}

/**
 * The HTTP/2 reset code (RST_STREAM, or the code nghttp2 closed the stream
 * with, e.g. REFUSED_STREAM above a GOAWAY's last stream id) behind an
 * error. Node's ERR_HTTP2_STREAM_ERROR carries the code only in its message,
 * so the subchannel, which sees every stream first, records it here by
 * identity; connect-node keeps that error as the `cause` of its own.
 */
const resetCodes = new WeakMap<object, number>();

/** Records that `err` reports a stream reset with `rstCode` (an NGHTTP2_* code). */
export function noteStreamReset(err: object, rstCode: number): void {
  resetCodes.set(err, rstCode);
}

/** How deep {@link errorCodesInChain} looks; causes are rarely more than 3 deep. */
const MAX_CHAIN = 10;

/**
 * The Node.js error codes (`err.code` strings such as "ECONNREFUSED",
 * "ERR_HTTP2_STREAM_ERROR", "ERR_HTTP2_GOAWAY_SESSION") along the `cause`
 * chain, outermost first. ConnectError's numeric codes are not included
 * (see {@link classifyTransportError}). Safe against cycles.
 */
export function errorCodesInChain(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < MAX_CHAIN; depth++, e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
  }
  return codes;
}

/** The first of `codes` found along `err`'s cause chain, or undefined. */
export function errorCodeInChain(err: unknown, codes: readonly string[]): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < MAX_CHAIN; depth++, e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && codes.includes(code)) return code;
  }
  return undefined;
}

/** The HTTP/2 reset code recorded for any error along the cause chain (see {@link noteStreamReset}). */
export function streamResetInChain(err: unknown): number | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < MAX_CHAIN; depth++, e = e.cause) {
    const code = resetCodes.get(e);
    if (code !== undefined) return code;
  }
  return undefined;
}

/**
 * What a failed call's error says about the transport, from codes only
 * (never message text):
 * - "unsent": the pool never sent it (no connection could carry it);
 * - "refused": the server refused the stream (REFUSED_STREAM), so its
 *   application never saw the call;
 * - "connection-lost": the connection broke (ECONNRESET, EPIPE);
 * - "connect-failed": no connection could be made (ECONNREFUSED, ETIMEDOUT,
 *   ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, ENETUNREACH);
 * - "other": anything else, including errors the server sent.
 */
export type TransportErrorKind = "unsent" | "refused" | "connection-lost" | "connect-failed" | "other";

const LOST_CODES = ["ECONNRESET", "EPIPE"] as const;
const CONNECT_CODES = ["ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"];

/** Classifies an error by its ConnectError code and the Node/HTTP/2 codes along its cause chain. */
export function classifyTransportError(err: unknown): TransportErrorKind {
  if (err instanceof ConnectError && unsent.has(err)) return "unsent";
  if (streamResetInChain(err) === h2.NGHTTP2_REFUSED_STREAM) return "refused";
  if (errorCodeInChain(err, LOST_CODES) !== undefined) return "connection-lost";
  if (errorCodeInChain(err, CONNECT_CODES) !== undefined) return "connect-failed";
  return "other";
}

/**
 * True when the call certainly did not reach the server's application, so
 * it may be retried transparently (gRPC's rules): it was never sent, or the
 * server refused its stream (REFUSED_STREAM, which HTTP/2 also uses for
 * streams above a GOAWAY's last stream id; RFC 9113, 8.7).
 */
export function neverProcessed(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  const kind = classifyTransportError(err);
  // connect-node reports a refused stream as INTERNAL when Node raises
  // ERR_HTTP2_STREAM_ERROR, and as UNAVAILABLE when it reads the reset code.
  return (
    kind === "unsent" || (kind === "refused" && (err.code === Code.Unavailable || err.code === Code.Internal))
  );
}

/** Node-style code of the error a connection is destroyed with when a keepalive PING goes unanswered. */
export const KEEPALIVE_TIMEOUT_CODE = "ERR_KEEPALIVE_TIMEOUT";

/** Node-style code of the error a connection is destroyed with when liveness finds it silent. */
export const LIVENESS_TIMEOUT_CODE = "ERR_LIVENESS_TIMEOUT";

/**
 * Codes along a cause chain that say the whole connection went away under a
 * call (not that the server or the protocol failed it): our PING timeouts,
 * socket errors, and Node's session-level errors (a GOAWAY with an error
 * code, a session destroyed by an HTTP/2 error).
 */
const SESSION_LOST_CODES = [
  LIVENESS_TIMEOUT_CODE,
  KEEPALIVE_TIMEOUT_CODE,
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
];

/** True when the error says the connection under the call went away (see SESSION_LOST_CODES). */
export function sessionLost(err: unknown): boolean {
  return errorCodeInChain(err, SESSION_LOST_CODES) !== undefined;
}

/** True when the call's connection was destroyed because liveness found it silent. */
export function lostToLiveness(err: unknown): boolean {
  return errorCodeInChain(err, [LIVENESS_TIMEOUT_CODE]) !== undefined;
}

/** True when the error says the connection under the call broke (ECONNRESET, EPIPE, "socket hang up"). */
export function connectionLost(err: unknown): boolean {
  return errorCodeInChain(err, LOST_CODES) !== undefined;
}
