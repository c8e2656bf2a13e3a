/**
 * The canonical names of gRPC status codes and of HTTP/2 error codes, as
 * one table each, for metric attributes (gRFC A66's `grpc.status`, A94's
 * `grpc.disconnect_error`) and error messages, on the server
 * (`@rngbalance/connect-server`) and the client (`@rngbalance/dns-pool`)
 * alike. No dependencies: codes are plain numbers, as on the wire.
 *
 * @packageDocumentation
 */

/**
 * gRPC's canonical status code names, indexed by code: 0 is "OK", 16 is
 * "UNAUTHENTICATED". Spelt as gRPC's statuscodes.md and every gRPC
 * implementation spell them ("CANCELLED"), not as connect's `Code` enum
 * ("Canceled").
 */
export const GRPC_STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

/** One of the names in {@link GRPC_STATUS_NAMES}. */
export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/**
 * The canonical name of a gRPC status code: "OK" for 0,
 * "DEADLINE_EXCEEDED" for 4 (connect's `Code.DeadlineExceeded`).
 *
 * @param code - a status code, e.g. a connect `Code` or a `grpc-status` trailer's value.
 * @returns its name; "UNKNOWN" for a number that is not a gRPC status code
 *   (17 and above, negative, fractional, NaN), as gRPC reads a status it does not know.
 */
export function grpcStatusName(code: number): GrpcStatusName {
  return GRPC_STATUS_NAMES[code] ?? "UNKNOWN";
}

/**
 * HTTP/2 error code names (RFC 9113, section 7), indexed by code: 0x0 is
 * "NO_ERROR", 0xb "ENHANCE_YOUR_CALM", 0xd "HTTP_1_1_REQUIRED". Node's
 * `http2.constants` has the same codes as `NGHTTP2_<name>`.
 */
export const HTTP2_ERROR_NAMES = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED",
] as const;

/** One of the names in {@link HTTP2_ERROR_NAMES}. */
export type Http2ErrorName = (typeof HTTP2_ERROR_NAMES)[number];

/**
 * The name of an HTTP/2 error code, as in an RST_STREAM or GOAWAY frame:
 * "NO_ERROR" for 0, "ENHANCE_YOUR_CALM" for 0xb.
 *
 * @param code - the frame's error code.
 * @returns its name; for a code RFC 9113 does not define (peers may send
 *   any 32-bit value, and must not treat unknown ones specially), the code
 *   in hex, e.g. "0x1f".
 */
export function http2ErrorName(code: number): Http2ErrorName | `0x${string}` {
  return HTTP2_ERROR_NAMES[code] ?? `0x${code.toString(16)}`;
}
