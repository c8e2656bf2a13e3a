import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { http2ErrorName } from "@rngbalance/grpc-names";

/**
 * Node's incoming headers as a Fetch API `Headers`, as connect-node's
 * `nodeHeaderToWebHeader` converts them: pseudo-headers dropped, array
 * values appended one by one.
 */
export function webHeadersFromNode(node: http2.IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (typeof v === "string") header.append(k, v);
    else if (typeof v === "number") header.append(k, String(v));
    else for (const e of v) header.append(k, e);
  }
  return header;
}

/**
 * A `Headers` object as the outgoing header object Node's http2 API takes,
 * as connect-node's `webHeaderToNodeHeaders` makes it: keys in `Headers`
 * iteration order (sorted), repeated keys (only set-cookie, which `Headers`
 * does not join) as arrays.
 *
 * `asResponseHeaders` also applies what `Http2ServerResponse.writeHead`
 * does on the compatibility path connect-node writes through: it drops a
 * `connection` header (unless its value is "trailers") instead of letting
 * `respond()` throw on it.
 */
export function nodeHeadersFromWeb(headers: Headers, asResponseHeaders: boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = Object.create(null);
  headers.forEach((value, key) => {
    if (asResponseHeaders && key === "connection" && value !== "trailers") return;
    const existing = out[key];
    if (existing === undefined) out[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else out[key] = [String(existing), value];
  });
  return out;
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
