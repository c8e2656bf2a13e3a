import * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  type DescMethodUnary,
  isMessage,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type UnaryRequest, type UnaryResponse } from "@connectrpc/connect";
import { type Compression, validateReadWriteMaxBytes } from "@connectrpc/connect/protocol";
import {
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  requestHeaderWithCompression,
  transformConnectPostToGetRequest,
} from "@connectrpc/connect/protocol-connect";
import { compressionBrotli, compressionGzip } from "@connectrpc/connect-node";
import { http2ErrorName } from "@rngbalance/grpc-names";
import type { MessageSizes } from "../telemetry/call-telemetry.js";
import { binarySize } from "../telemetry/sizes.js";
import {
  bodyOverflow,
  bodyShortfall,
  type ConnectResponseHead,
  checkResponseHead,
  errorFromBody,
  lazyConnectResponse,
} from "./connect-unary-decode.js";
import type { EndpointTransportOptions } from "./endpoint-options.js";
import type { FastUnaryOptions, SerializerCache } from "./grpc-unary.js";
import type { Subchannel } from "./subchannel.js";
import { connectionLostError, unaryExchange } from "./unary-exchange.js";

/** Options of the Connect fast path: those of connect-node's Connect transport it honours. */
export interface ConnectUnaryOptions extends FastUnaryOptions {
  /** Binary (`application/proto`) or JSON (`application/json`). */
  readonly useBinaryFormat: boolean;
  /** Response compressions offered in `accept-encoding` and decompressed. */
  readonly acceptCompression: readonly Compression[];
  /** Request compression, or undefined for none. */
  readonly sendCompression: Compression | undefined;
  /** Request bodies up to this many bytes go uncompressed. */
  readonly compressMinBytes: number;
  /** Send calls of NO_SIDE_EFFECTS methods as GET requests. */
  readonly useHttpGet: boolean;
  /** The request headers every call sends, before user headers and the timeout. */
  readonly baseHeaders: Readonly<http2.OutgoingHttpHeaders>;
  /** The request content type, which a plain response echoes. */
  readonly contentType: string;
}

/**
 * Whether the Connect fast path can serve unary calls with these transport
 * options: the gRPC fast path's rule for interceptors (none, since they
 * must see every call as connect-node runs it). Binary and JSON, JSON
 * options, request and response compression are all handled.
 */
export function connectFastPathAllowed(o: EndpointTransportOptions): boolean {
  return o.interceptors === undefined || o.interceptors.length === 0;
}

/** The Connect fast path's options from the pool's transport options, with connect-node's defaults. */
export function connectUnaryOptions(o: EndpointTransportOptions): ConnectUnaryOptions {
  const useBinaryFormat = o.useBinaryFormat ?? true;
  const acceptCompression = o.acceptCompression ?? [compressionGzip, compressionBrotli];
  const baseHeaders: http2.OutgoingHttpHeaders = {};
  requestHeaderWithCompression("unary", useBinaryFormat, undefined, undefined, acceptCompression, null, true)
    // A Headers object iterates its names lowercased, as Node sends them.
    .forEach((value, key) => {
      baseHeaders[key] = value;
    });
  // connect's own defaults (and checks, which the pool's transport creation has already passed).
  const limits = validateReadWriteMaxBytes(o.readMaxBytes, o.writeMaxBytes, o.compressMinBytes);
  return {
    readMaxBytes: limits.readMaxBytes,
    writeMaxBytes: limits.writeMaxBytes,
    binaryOptions: o.binaryOptions,
    jsonOptions: o.jsonOptions,
    useBinaryFormat,
    acceptCompression,
    sendCompression: o.sendCompression,
    compressMinBytes: limits.compressMinBytes,
    useHttpGet: o.useHttpGet === true,
    baseHeaders,
    contentType: useBinaryFormat ? contentTypeUnaryProto : contentTypeUnaryJson,
  };
}

/**
 * Calls the Connect fast path has started in this process. Tests read it
 * to tell which path served a call: the fast path or connect-node's
 * transport, whose results are meant to be indistinguishable.
 */
export const connectFastPathCalls = { started: 0 };

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/**
 * A unary Connect-protocol call written directly on `node:http2`: one POST
 * with the serialized message as its body, the response collected from the
 * stream's events, and connect's own protocol functions (request headers,
 * response validation, trailer demux, error JSON, serialization with size
 * limits, connect-node's decompressors) for every decision, so callers see
 * what connect-node's `createConnectTransport` gives them; the differential
 * tests check that.
 *
 * What it leaves out is connect-node's generic machinery: async-iterable
 * body pipelines, per-call AbortController chains, interceptor plumbing and
 * a serialization lookup built per call.
 *
 * As connect's transport, it compresses a request body over
 * `compressMinBytes` with `sendCompression` (and says so in
 * `content-encoding`); the deadline runs from before the compression. With
 * `useHttpGet`, calls of NO_SIDE_EFFECTS methods go as GET requests, the
 * message in the query string, as connect's transport builds them.
 */
export function fastConnectUnary<I extends DescMessage, O extends DescMessage>(
  subchannel: Subchannel,
  serializers: SerializerCache,
  options: ConnectUnaryOptions,
  method: DescMethodUnary<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: ConstructorParameters<typeof Headers>[0] | undefined,
  input: MessageInitShape<I>,
  sizes?: MessageSizes,
): Promise<UnaryResponse<I, O>> {
  connectFastPathCalls.started++;
  // As connect's Connect transport: a deadline of 0 or less means none.
  if (timeoutMs !== undefined && timeoutMs <= 0) timeoutMs = undefined;
  const serialization = serializers.get(method, options);
  if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  const binary = options.useBinaryFormat;
  let body: Uint8Array;
  let message: MessageShape<I>;
  try {
    // As connect's transports do: an init object becomes a message first.
    message = isMessage(input, method.input) ? input : create(method.input, input);
    body = serialization.getI(binary).serialize(message);
  } catch (err) {
    return Promise.reject(ConnectError.from(err));
  }
  // Sizes are message sizes in the binary format, whatever the wire carries (see sizes.ts).
  if (sizes) sizes.sent = binary ? body.length : binarySize(method.input, message);
  const nodeHeaders = requestHeaders(options, timeoutMs, header);
  nodeHeaders[":method"] = "POST";
  nodeHeaders[":path"] = `/${method.parent.typeName}/${method.name}`;
  const compression = options.sendCompression;
  const get = options.useHttpGet && method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS;
  if (compression === undefined || body.byteLength <= options.compressMinBytes) {
    const sent = get ? asGet(nodeHeaders, body, binary) : nodeHeaders;
    const payload = get ? undefined : body;
    return exchange(subchannel, options, serialization, method, signal, timeoutMs, sent, payload, sizes);
  }
  const started = performance.now();
  return compression.compress(body).then(
    (compressed) => {
      nodeHeaders["content-encoding"] = compression.name;
      let left = timeoutMs;
      if (left !== undefined) {
        left -= performance.now() - started;
        if (left <= 0) throw new ConnectError("the operation timed out", Code.DeadlineExceeded);
      }
      const sent = get ? asGet(nodeHeaders, compressed, binary) : nodeHeaders;
      const payload = get ? undefined : compressed;
      return exchange(subchannel, options, serialization, method, signal, left, sent, payload, sizes);
    },
    (err: unknown) => {
      throw ConnectError.from(err);
    },
  );
}

/**
 * The GET form of a POST's headers and body, made by connect's own
 * transformConnectPostToGetRequest: the message (base64 for binary or
 * compressed bodies) and its encoding in the query string, the headers a
 * GET does not use left out.
 */
function asGet(
  nodeHeaders: http2.OutgoingHttpHeaders,
  body: Uint8Array,
  binary: boolean,
): http2.OutgoingHttpHeaders {
  const header = new Headers();
  for (const key in nodeHeaders) {
    if (!key.startsWith(":")) header.set(key, String(nodeHeaders[key]));
  }
  const post = { url: String(nodeHeaders[":path"]), header } as unknown as UnaryRequest;
  const get = transformConnectPostToGetRequest(post, body, binary);
  const out: http2.OutgoingHttpHeaders = {};
  get.header.forEach((value, key) => {
    out[key] = value;
  });
  out[":method"] = "GET";
  // connect-node sends the path as the URL parser leaves it (it escapes ' in a JSON message).
  const url = new URL(get.url, "http://h");
  out[":path"] = url.pathname + url.search;
  return out;
}

/** One request and its response on a new stream: `body` sent (none for GET), the response decoded. */
function exchange<I extends DescMessage, O extends DescMessage>(
  subchannel: Subchannel,
  options: ConnectUnaryOptions,
  serialization: ReturnType<SerializerCache["get"]>,
  method: DescMethodUnary<I, O>,
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  nodeHeaders: http2.OutgoingHttpHeaders,
  body: Uint8Array | undefined,
  sizes: MessageSizes | undefined,
): Promise<UnaryResponse<I, O>> {
  const binary = options.useBinaryFormat;
  let head: ConnectResponseHead | undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  return unaryExchange<UnaryResponse<I, O>>(subchannel, nodeHeaders, body, signal, timeoutMs, {
    // As connect-node resets a stream it gives up on.
    resetCode: (err) => (err.code === Code.Canceled ? NGHTTP2_CANCEL : NGHTTP2_INTERNAL_ERROR),
    onHeaders: sizes?.onHeaders,
    read(s, call) {
      s.on("response", (h) => {
        try {
          head = checkResponseHead(
            h,
            options.contentType,
            binary,
            options.acceptCompression,
            options.readMaxBytes,
          );
        } catch (err) {
          call.finish(ConnectError.from(err));
        }
      });
      s.on("data", (chunk: Buffer) => {
        if (call.settled || !head) return;
        chunks.push(chunk);
        received += chunk.length;
        const overflow = bodyOverflow(head, received, options.readMaxBytes);
        if (overflow) call.finish(overflow);
      });
    },
    closed(s, call, sessionLost) {
      if (!head) {
        call.finish(
          sessionLost
            ? connectionLostError()
            : new ConnectError(
                `http/2 stream closed with error code ${http2ErrorName(s.rstCode)} (0x${s.rstCode.toString(16)}) before the response was received`,
                Code.Internal,
              ),
        );
        return;
      }
      const shortfall = bodyShortfall(head, received);
      if (shortfall) {
        call.finish(shortfall);
        return;
      }
      const data = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
      const done = head;
      if (done.compression) {
        done.compression.decompress(data, options.readMaxBytes).then(
          (plain) => call.finish(...decode(done, plain)),
          (err: unknown) => call.finish(ConnectError.from(err)),
        );
      } else call.finish(...decode(done, data));
    },
  });

  function decode(
    head: ConnectResponseHead,
    data: Uint8Array,
  ): [ConnectError | undefined, UnaryResponse<I, O>?] {
    if (head.unaryError) return [errorFromBody(head, data)];
    try {
      const output = serialization.getO(binary).parse(data);
      if (sizes) sizes.rcvd = binary ? data.length : binarySize(method.output, output as never);
      return [undefined, lazyConnectResponse(method, output as never, head.nodeHeaders)];
    } catch (err) {
      return [ConnectError.from(err)];
    }
  }
}

/**
 * Request headers as connect's requestHeaderWithCompression() makes them,
 * straight into Node's form: the precomputed set unless the call brings
 * headers of its own.
 */
function requestHeaders(
  options: ConnectUnaryOptions,
  timeoutMs: number | undefined,
  userHeaders: ConstructorParameters<typeof Headers>[0] | undefined,
): http2.OutgoingHttpHeaders {
  if (userHeaders === undefined) {
    const out: http2.OutgoingHttpHeaders = { ...options.baseHeaders };
    if (timeoutMs !== undefined) out["connect-timeout-ms"] = `${timeoutMs}`;
    return out;
  }
  const headers = requestHeaderWithCompression(
    "unary",
    options.useBinaryFormat,
    timeoutMs,
    userHeaders,
    options.acceptCompression as Compression[],
    null,
    true,
  );
  // The transport sends content-encoding only for a compressed body, which this path never sends.
  headers.delete("content-encoding");
  const out: http2.OutgoingHttpHeaders = {};
  headers.forEach((value, key) => {
    out[key] = value;
  });
  return out;
}
