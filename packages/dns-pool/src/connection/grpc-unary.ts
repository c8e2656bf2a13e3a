import * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  isMessage,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type UnaryResponse } from "@connectrpc/connect";
import {
  createMethodSerializationLookup,
  type MethodSerializationLookup,
} from "@connectrpc/connect/protocol";
import { requestHeader, validateResponse, validateTrailer } from "@connectrpc/connect/protocol-grpc";
import { errorCodesInChain, noteStreamReset } from "../errors.js";
import type { Subchannel } from "./subchannel.js";

/** Options of the fast unary path: those of connect-node's gRPC transport it honours. */
export interface FastUnaryOptions {
  readonly readMaxBytes: number;
  readonly writeMaxBytes: number;
  readonly binaryOptions: Parameters<typeof createMethodSerializationLookup>[1];
}

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INADEQUATE_SECURITY } =
  http2.constants;

/**
 * A unary gRPC call written directly on `node:http2`: one request frame,
 * the response collected from the stream's events, and connect's own
 * protocol functions (request headers, response and trailer validation,
 * serialization with size limits) for every decision, so results match
 * connect-node's gRPC transport; the differential tests check that.
 *
 * What it leaves out is connect-node's generic machinery for unary calls:
 * async-iterable pipelines, per-call AbortController chains and a
 * serialization lookup built per call. Compression is not offered (no
 * grpc-accept-encoding), so servers answer uncompressed.
 */
export function fastGrpcUnary<I extends DescMessage, O extends DescMessage>(
  subchannel: Subchannel,
  serializers: SerializerCache,
  options: FastUnaryOptions,
  method: DescMethodUnary<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: ConstructorParameters<typeof Headers>[0] | undefined,
  input: MessageInitShape<I>,
): Promise<UnaryResponse<I, O>> {
  const serialization = serializers.get(method, options);
  if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  let body: Uint8Array;
  try {
    // As connect's transports do: an init object becomes a message first.
    const message = isMessage(input, method.input) ? input : create(method.input, input);
    body = frame(serialization.getI(true).serialize(message));
  } catch (err) {
    return Promise.reject(ConnectError.from(err));
  }
  const path = `/${method.parent.typeName}/${method.name}`;
  const nodeHeaders = requestHeaders(timeoutMs, header);
  nodeHeaders[":method"] = "POST";
  nodeHeaders[":path"] = path;
  return new Promise<UnaryResponse<I, O>>((resolve, reject) => {
    let stream: http2.ClientHttp2Stream | undefined;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: ConnectError | undefined, response?: UnaryResponse<I, O>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err) {
        if (stream && !stream.closed) stream.close(NGHTTP2_CANCEL);
        reject(err);
      } else resolve(response as UnaryResponse<I, O>);
    };
    const onAbort = () => finish(ConnectError.from(signal?.reason, Code.Canceled));
    signal?.addEventListener("abort", onAbort);
    if (timeoutMs !== undefined) {
      timer = setTimeout(
        () => finish(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
        timeoutMs,
      );
    }
    subchannel.openStream(nodeHeaders).then(
      (s) => {
        stream = s;
        if (settled) {
          s.close(NGHTTP2_CANCEL);
          return;
        }
        let responseHeaders: http2.IncomingHttpHeaders | undefined;
        let trailers: http2.IncomingHttpHeaders | undefined;
        const chunks: Buffer[] = [];
        let received = 0;
        s.on("response", (h) => {
          responseHeaders = h;
        });
        s.on("trailers", (t) => {
          trailers = t;
        });
        let lengthChecked = false;
        s.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          // Stop reading as soon as the first envelope's length is over the limit.
          if (!lengthChecked && received >= 5) {
            lengthChecked = true;
            const length = Buffer.concat(chunks, received).readUInt32BE(1);
            if (length > options.readMaxBytes) finish(readMaxBytesError(length, options.readMaxBytes));
          }
        });
        // Stream errors and resets fail the call as connect-node fails it.
        s.on("error", (err: Error & { code?: string }) => {
          if (err.code === "ERR_STREAM_WRITE_AFTER_END" && s.writableEnded) return;
          finish(errorFromNodeReason(err));
        });
        s.on("close", () => {
          if (settled) return;
          const reset = errorFromReset(s.rstCode);
          if (reset) {
            finish(reset);
            return;
          }
          if (!responseHeaders) {
            finish(new ConnectError("protocol error: stream closed without a response", Code.Internal));
            return;
          }
          try {
            finish(
              undefined,
              decodeResponse(method, serialization, options, responseHeaders, trailers, chunks, received),
            );
          } catch (err) {
            finish(ConnectError.from(err));
          }
        });
        s.end(body);
      },
      (err: unknown) => finish(ConnectError.from(err)),
    );
  });
}

/** Serialization lookups per method, built once instead of per call. */
export class SerializerCache {
  private readonly byMethod = new WeakMap<object, MethodSerializationLookup<DescMessage, DescMessage>>();

  get(method: DescMethodUnary<DescMessage, DescMessage>, options: FastUnaryOptions) {
    let s = this.byMethod.get(method);
    if (!s) {
      s = createMethodSerializationLookup(method, options.binaryOptions, undefined, options);
      this.byMethod.set(method, s);
    }
    return s;
  }
}

/** A unary response whose Headers objects are made only if someone reads them. */
function lazyResponse<I extends DescMessage, O extends DescMessage>(
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

/** Request headers as connect's requestHeader() makes them, straight into Node's form. */
function requestHeaders(
  timeoutMs: number | undefined,
  userHeaders: ConstructorParameters<typeof Headers>[0] | undefined,
): http2.OutgoingHttpHeaders {
  if (userHeaders !== undefined) {
    const out: http2.OutgoingHttpHeaders = {};
    requestHeader(true, timeoutMs, userHeaders).forEach((value, key) => {
      out[key] = value;
    });
    return out;
  }
  const out: http2.OutgoingHttpHeaders = {
    "content-type": "application/grpc+proto",
    "user-agent": USER_AGENT,
    te: "trailers",
  };
  if (timeoutMs !== undefined) out["grpc-timeout"] = `${timeoutMs}m`;
  return out;
}

/** The user agent connect-node sends, so servers see one client either way. */
const USER_AGENT = requestHeader(true, undefined, undefined).get("user-agent") ?? "connect-es";

function frame(message: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function toWebHeaders(node: http2.IncomingHttpHeaders | undefined): Headers {
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
function decodeResponse<I extends DescMessage, O extends DescMessage>(
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

function readMaxBytesError(length: number, readMaxBytes: number): ConnectError {
  return new ConnectError(
    `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
    Code.ResourceExhausted,
  );
}

/** HTTP/2 error codes by number (RFC 9113, 7). */
const H2_CODE_NAMES = [
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
];
const RESET_CODES: Record<number, Code> = {
  1: Code.Internal,
  2: Code.Internal,
  3: Code.Internal,
  4: Code.Internal,
  6: Code.Internal,
  9: Code.Internal,
  10: Code.Internal,
  [NGHTTP2_REFUSED_STREAM]: Code.Unavailable,
  [NGHTTP2_CANCEL]: Code.Canceled,
  [NGHTTP2_ENHANCE_YOUR_CALM]: Code.ResourceExhausted,
  [NGHTTP2_INADEQUATE_SECURITY]: Code.PermissionDenied,
  13: Code.PermissionDenied,
};

/**
 * As connect-node maps an HTTP/2 reset code (its node-error.ts): undefined
 * for NO_ERROR and STREAM_CLOSED, which end a stream without failing it.
 */
function errorFromReset(rstCode: number): ConnectError | undefined {
  const code = RESET_CODES[rstCode];
  if (code === undefined) return undefined;
  const err = new ConnectError(
    `http/2 stream closed with error code ${H2_CODE_NAMES[rstCode]} (0x${rstCode.toString(16)})`,
    code,
  );
  // Classified by code, not by message (see errors.ts): e.g. REFUSED_STREAM is safe to retry.
  noteStreamReset(err, rstCode);
  return err;
}

/** As connect-node maps a Node error (its connectErrorFromNodeReason). */
function errorFromNodeReason(reason: Error): ConnectError {
  const codes = errorCodesInChain(reason);
  let code = Code.Internal;
  if (codes.includes("ERR_STREAM_WRITE_AFTER_END")) code = Code.Aborted;
  else if (
    codes.some((c) => c === "ERR_STREAM_DESTROYED" || c === "ERR_HTTP2_INVALID_STREAM" || c === "ECONNRESET")
  ) {
    code = Code.Aborted;
  } else if (
    codes.some((c) => c === "ETIMEDOUT" || c === "ENOTFOUND" || c === "EAI_AGAIN" || c === "ECONNREFUSED")
  ) {
    code = Code.Unavailable;
  }
  const err = ConnectError.from(reason, code);
  if (err !== (reason as unknown)) err.cause = reason;
  return err;
}
