import type * as http2 from "node:http2";
import type { DescMessage, DescMethodUnary } from "@bufbuild/protobuf";
import { Code, ConnectError, type UnaryResponse } from "@connectrpc/connect";
import type { MethodSerializationLookup } from "@connectrpc/connect/protocol";
import { validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import type { FastUnaryOptions } from "./grpc-unary.js";

/** A unary response whose Headers objects are made only if someone reads them. */
export function lazyResponse<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  message: UnaryResponse<I, O>["message"],
  nodeHeaders: http2.IncomingHttpHeaders,
  nodeTrailers: http2.IncomingHttpHeaders | undefined,
): UnaryResponse<I, O> {
  let header: Headers | undefined;
  let trailer: Headers | undefined;
  return {
    stream: false,
    service: method.parent,
    method,
    message,
    get header() {
      header ??= toWebHeaders(nodeHeaders);
      return header;
    },
    get trailer() {
      trailer ??= toWebHeaders(nodeTrailers);
      return trailer;
    },
  };
}

/** Node's header object as a Headers object, as connect-node converts it (pseudo-headers left out). */
export function toWebHeaders(node: http2.IncomingHttpHeaders | undefined): Headers {
  const h = new Headers();
  if (!node) return h;
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith(":") || v === undefined) continue;
    if (Array.isArray(v)) for (const e of v) h.append(k, e);
    else h.append(k, String(v));
  }
  return h;
}

/** The same decisions, in the same order, as connect's gRPC transport for a unary call. */
export function decodeResponse<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  serialization: MethodSerializationLookup<DescMessage, DescMessage>,
  options: FastUnaryOptions,
  nodeHeaders: http2.IncomingHttpHeaders,
  nodeTrailers: http2.IncomingHttpHeaders | undefined,
  chunks: Buffer[],
  received: number,
): UnaryResponse<I, O> {
  const status = Number(nodeHeaders[":status"] ?? 0);
  // The common case, checked on Node's header objects: HTTP 200, a gRPC
  // content type, grpc-status 0 in the trailers and one message. Anything
  // else goes through connect's own validation, error for error.
  const plainSuccess =
    status === 200 &&
    String(nodeHeaders["content-type"] ?? "").startsWith("application/grpc") &&
    nodeHeaders["grpc-status"] === undefined &&
    nodeTrailers?.["grpc-status"] === "0" &&
    chunks.length > 0;
  if (plainSuccess) {
    const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
    const length = data.length >= 5 ? data.readUInt32BE(1) : -1;
    if (data.length === 5 + length && data[0] === 0) {
      if (length > options.readMaxBytes) throw readMaxBytesError(length, options.readMaxBytes);
      const message = serialization.getO(true).parse(data.subarray(5));
      return lazyResponse(method, message as never, nodeHeaders, nodeTrailers);
    }
  }
  const header = toWebHeaders(nodeHeaders);
  const trailer = toWebHeaders(nodeTrailers);
  const { headerError } = validateResponse(status, header);
  const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
  let message: unknown;
  for (let offset = 0; offset < data.length; ) {
    if (data.length - offset < 5)
      throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    const flags = data[offset] as number;
    const length = data.readUInt32BE(offset + 1);
    if (length > options.readMaxBytes) throw readMaxBytesError(length, options.readMaxBytes);
    if (data.length - offset - 5 < length) {
      throw new ConnectError(
        "protocol error: promised " +
          `${length} bytes in enveloped message, got ${data.length - offset - 5} bytes`,
        Code.InvalidArgument,
      );
    }
    if ((flags & 0b1) === 0b1) {
      throw new ConnectError(
        "received compressed envelope, but do not know how to decompress",
        Code.Internal,
      );
    }
    if (message !== undefined) {
      throw new ConnectError(
        "protocol error: received extra output message for unary method",
        Code.Unimplemented,
      );
    }
    message = serialization.getO(true).parse(data.subarray(offset + 5, offset + 5 + length));
    offset += 5 + length;
  }
  validateTrailer(trailer, header);
  if (message === undefined) {
    if (headerError) throw headerError;
    throw new ConnectError(
      "protocol error: missing output message for unary method",
      trailer.has("grpc-status") ? Code.Unimplemented : Code.Unknown,
    );
  }
  if (headerError) {
    throw new ConnectError(
      "protocol error: received output message for unary method with error status",
      Code.Unknown,
    );
  }
  return { stream: false, service: method.parent, method, header, message: message as never, trailer };
}

/** RESOURCE_EXHAUSTED for a response message over `readMaxBytes`, as connect words it. */
export function readMaxBytesError(length: number, readMaxBytes: number): ConnectError {
  return new ConnectError(
    `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
    Code.ResourceExhausted,
  );
}
