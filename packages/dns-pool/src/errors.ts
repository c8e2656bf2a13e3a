import { Code, ConnectError } from "@connectrpc/connect";

/** A malformed target or option: what is wrong and how it should look. */
export function invalidArgument(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
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
 * True when the call certainly did not reach the server's application, so
 * it may be retried transparently (gRPC's rules): it was never sent, or the
 * server refused its stream (REFUSED_STREAM, which HTTP/2 also uses for
 * streams above a GOAWAY's last stream id; RFC 9113, 8.7).
 */
export function neverProcessed(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  if (unsent.has(err)) return true;
  // connect-node reports a refused stream as UNAVAILABLE when it reads the
  // reset code itself, and as INTERNAL when Node raises ERR_HTTP2_STREAM_ERROR.
  return (
    (err.code === Code.Unavailable || err.code === Code.Internal) && /REFUSED_STREAM/.test(err.rawMessage)
  );
}
