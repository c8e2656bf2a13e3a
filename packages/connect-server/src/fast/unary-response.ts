import type * as http2 from "node:http2";
import type { Compression } from "@connectrpc/connect/protocol";
import { contentTypeProto, grpcStatusOk } from "@connectrpc/connect/protocol-grpc";
import { nodeHeadersFromWeb } from "./headers.js";

// A unary response as connect-node writes it through Http2ServerResponse:
// headers (in the order connect's Headers sort them), one enveloped
// message, then trailers. Calls whose handler leaves headers and trailers
// alone (most) share the constant objects below and build no fetch Headers.

/** `respond()` options as Http2ServerResponse passes them: trailers follow. */
export const RESPOND_OPTIONS = { waitForTrailers: true } as const;
/** Trailers of a successful call whose handler did not touch them. */
export const OK_TRAILERS: http2.OutgoingHttpHeaders = { "grpc-status": grpcStatusOk };
/** Response headers of a call whose handler did not touch them, per response encoding. */
const PLAIN_HEADERS: http2.OutgoingHttpHeaders = { ":status": 200, "content-type": contentTypeProto };
const ENCODED_HEADERS = new Map<string, http2.OutgoingHttpHeaders>();

/**
 * The response headers: those a handler or interceptor set on the
 * context's `responseHeader` (`handlerHeaders`, when it was read), else the
 * shared plain ones for the response's encoding.
 */
export function responseHeaders(
  handlerHeaders: Headers | undefined,
  compression: Compression | null,
): http2.OutgoingHttpHeaders {
  if (handlerHeaders !== undefined) {
    const headers = nodeHeadersFromWeb(handlerHeaders, true);
    headers[":status"] = 200;
    return headers;
  }
  return compression === null ? PLAIN_HEADERS : encodedHeaders(compression.name);
}

/** One gRPC envelope: the flags byte (1 for a compressed message), the length, the message. */
export function frame(flags: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + data.byteLength);
  out[0] = flags;
  out.writeUInt32BE(data.byteLength, 1);
  out.set(data, 5);
  return out;
}

/** grpc-status 0 and one more trailer, in the order connect's sorted Headers send them. */
export function sortedTrailers(name: string, value: string): http2.OutgoingHttpHeaders {
  return name < "grpc-status"
    ? { [name]: value, "grpc-status": grpcStatusOk }
    : { "grpc-status": grpcStatusOk, [name]: value };
}

function encodedHeaders(name: string): http2.OutgoingHttpHeaders {
  let headers = ENCODED_HEADERS.get(name);
  if (headers === undefined) {
    // Sorted as connect's Headers object sorts them: content-type, grpc-encoding.
    headers = { ":status": 200, "content-type": contentTypeProto, "grpc-encoding": name };
    ENCODED_HEADERS.set(name, headers);
  }
  return headers;
}
