import { Code, ConnectError } from "@connectrpc/connect";
import { http2ErrorName } from "@rngbalance/grpc-names";

// The errors the fast path raises where connect-node raises its own: each
// must carry the same code and message, since clients (and the differential
// test) see both.

/**
 * What connect sends for anything a handler (or interceptor) throws: a
 * ConnectError as it is, anything else as INTERNAL "internal error" with the
 * thrown value only as its cause, so no message leaks to the client.
 */
export function errorFromThrown(reason: unknown): ConnectError {
  return reason instanceof ConnectError
    ? reason
    : new ConnectError("internal error", Code.Internal, undefined, undefined, reason);
}

/** The reason a call's signal aborts with once its grpc-timeout deadline passes, as connect's deadline signal. */
export function deadlineError(): ConnectError {
  return new ConnectError("the operation timed out", Code.DeadlineExceeded);
}

/** The Code connect-node gives each reset code; STREAM_CLOSED and NO_ERROR have none. */
const RESET_CODES: Partial<Record<number, Code>> = {
  1: Code.Internal,
  2: Code.Internal,
  3: Code.Internal,
  4: Code.Internal,
  6: Code.Internal,
  7: Code.Unavailable,
  8: Code.Canceled,
  9: Code.Internal,
  10: Code.Internal,
  11: Code.ResourceExhausted,
  12: Code.PermissionDenied,
  13: Code.PermissionDenied,
};

/**
 * The reason a handler's signal aborts with when its HTTP/2 stream closes
 * with `rstCode`, as connect-node's `connectErrorFromH2ResetCode` (not
 * exported) makes it; undefined where connect-node aborts without a reason.
 */
export function errorFromResetCode(rstCode: number): ConnectError | undefined {
  const code = RESET_CODES[rstCode];
  if (code === undefined) return undefined;
  return new ConnectError(
    `http/2 stream closed with error code ${http2ErrorName(rstCode)} (0x${rstCode.toString(16)})`,
    code,
  );
}

/** Node error codes connect-node takes for a client that hung up. */
const GONE_CODES = new Set([
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_STREAM_DESTROYED",
  "ERR_HTTP2_INVALID_STREAM",
  "ECONNRESET",
]);
/** Node error codes connect-node takes for a peer it cannot reach. */
const UNREACHABLE_CODES = new Set(["ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED"]);

/**
 * The reason an HTTP/1.1 call's signal aborts with when its request errs
 * (e.g. "aborted", ECONNRESET, when the client goes away mid-body), as
 * connect-node's `connectErrorFromNodeReason` (not exported) makes it:
 * ABORTED for a peer that hung up, UNAVAILABLE for one it cannot reach,
 * INTERNAL otherwise; the Node error as its cause.
 */
export function errorFromNodeReason(reason: unknown): ConnectError {
  let code = Code.Internal;
  const seen: Error[] = [];
  let hungUp = false;
  let unreachable = false;
  for (let r = reason; r instanceof Error && !seen.includes(r); r = (r as { cause?: unknown }).cause) {
    seen.push(r);
    const c = (r as { code?: unknown }).code;
    if (typeof c === "string" && GONE_CODES.has(c)) hungUp = true;
    if (typeof c === "string" && UNREACHABLE_CODES.has(c)) unreachable = true;
    if (!("cause" in r)) break;
  }
  if (hungUp) code = Code.Aborted;
  else if (unreachable) code = Code.Unavailable;
  const error = ConnectError.from(reason, code);
  if (error !== reason) error.cause = reason;
  return error;
}
