import type * as http2 from "node:http2";
import type { DescMessage, DescMethodUnary } from "@bufbuild/protobuf";
import { appendHeaders, Code, ConnectError, type UnaryResponse } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import {
  errorFromJsonBytes,
  trailerDemux,
  validateResponseWithCompression,
} from "@connectrpc/connect/protocol-connect";
import { toWebHeaders } from "./grpc-unary-decode.js";

/**
 * What the response headers of a Connect unary call decided, as connect's
 * `validateResponseWithCompression` decides it: how to decompress the body,
 * whether the body is an error (HTTP status other than 200 with a JSON
 * content type), and the body length the server promised.
 */
export interface ConnectResponseHead {
  /** The response headers, as Node gives them. */
  readonly nodeHeaders: http2.IncomingHttpHeaders;
  /** The response compression, or undefined for identity. */
  readonly compression: Compression | undefined;
  /** The error made from the HTTP status, when the body is a JSON error; else undefined. */
  readonly unaryError: ConnectError | undefined;
  /** `content-length` when it is a valid length, else -1 (read to the end, readMaxBytes applies). */
  readonly lengthHint: number;
}

/**
 * Checks the response headers as connect's Connect transport does, in the
 * same order: response encoding, HTTP status, content type; then the
 * promised length against readMaxBytes (its `readAllBytes`).
 *
 * @param contentType - the content type the request was sent with: a
 *   response with exactly this type, status 200 and no encoding needs no
 *   further check.
 * @throws ConnectError as connect-node's transport throws it.
 */
export function checkResponseHead(
  nodeHeaders: http2.IncomingHttpHeaders,
  contentType: string,
  useBinaryFormat: boolean,
  acceptCompression: readonly Compression[],
  readMaxBytes: number,
): ConnectResponseHead {
  let compression: Compression | undefined;
  let unaryError: ConnectError | undefined;
  const plain =
    Number(nodeHeaders[":status"]) === 200 &&
    nodeHeaders["content-type"] === contentType &&
    nodeHeaders["content-encoding"] === undefined;
  if (!plain) {
    const checked = validateResponseWithCompression(
      "unary",
      acceptCompression as Compression[],
      useBinaryFormat,
      Number(nodeHeaders[":status"] ?? 0),
      toWebHeaders(nodeHeaders),
    );
    compression = checked.compression;
    unaryError = checked.isUnaryError ? checked.unaryError : undefined;
  }
  const lengthHint = parseLengthHint(nodeHeaders["content-length"]);
  if (lengthHint > readMaxBytes) {
    throw new ConnectError(
      `message size ${lengthHint} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  return { nodeHeaders, compression, unaryError, lengthHint };
}

/** connect's parseLengthHint: a safe non-negative integer, else -1 (no hint). */
function parseLengthHint(value: string | string[] | undefined): number {
  if (typeof value !== "string") return -1;
  const n = Number.parseInt(value, 10);
  return Number.isSafeInteger(n) && n >= 0 ? n : -1;
}

/**
 * The error for `received` body bytes so far, as connect's `readAllBytes`
 * words it, or undefined while within bounds: past the promised length, or
 * past readMaxBytes when no length was promised.
 */
export function bodyOverflow(head: ConnectResponseHead, received: number, readMaxBytes: number) {
  if (head.lengthHint >= 0) {
    if (received <= head.lengthHint) return undefined;
    return new ConnectError(
      `protocol error: promised ${head.lengthHint} bytes, received ${received}`,
      Code.InvalidArgument,
    );
  }
  if (received <= readMaxBytes) return undefined;
  return new ConnectError(
    `message size is larger than configured readMaxBytes ${readMaxBytes}`,
    Code.ResourceExhausted,
  );
}

/** The error for a body shorter than promised, as `readAllBytes` words it; else undefined. */
export function bodyShortfall(head: ConnectResponseHead, received: number): ConnectError | undefined {
  if (head.lengthHint < 0 || received >= head.lengthHint) return undefined;
  return new ConnectError(
    `protocol error: promised ${head.lengthHint} bytes, received ${received}`,
    Code.InvalidArgument,
  );
}

/**
 * The error a Connect error body makes, as connect's transport makes it:
 * the JSON error with the response headers and `trailer-` trailers as
 * metadata, or the error from the HTTP status when the body is not a valid
 * error.
 */
export function errorFromBody(head: ConnectResponseHead, body: Uint8Array): ConnectError {
  const [header, trailer] = trailerDemux(toWebHeaders(head.nodeHeaders));
  try {
    return errorFromJsonBytes(body, appendHeaders(header, trailer), head.unaryError as ConnectError);
  } catch (err) {
    return ConnectError.from(err);
  }
}

/**
 * A unary response whose Headers objects are made only if someone reads
 * them: `trailer-` headers become the trailer, the rest the header.
 */
export function lazyConnectResponse<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  message: UnaryResponse<I, O>["message"],
  nodeHeaders: http2.IncomingHttpHeaders,
): UnaryResponse<I, O> {
  let demuxed: [Headers, Headers] | undefined;
  const demux = () => {
    demuxed ??= trailerDemux(toWebHeaders(nodeHeaders));
    return demuxed;
  };
  return {
    stream: false,
    service: method.parent,
    method,
    message,
    get header() {
      return demux()[0];
    },
    get trailer() {
      return demux()[1];
    },
  };
}
