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
import { requestHeader } from "@connectrpc/connect/protocol-grpc";
import type { MessageSizes } from "../telemetry/call-telemetry.js";
import { decodeResponse, readMaxBytesError } from "./grpc-unary-decode.js";
import type { Subchannel } from "./subchannel.js";
import { connectionLostError, unaryExchange } from "./unary-exchange.js";

/** Options of the fast unary path: those of connect-node's gRPC transport it honours. */
export interface FastUnaryOptions {
  /** Largest response message accepted. */
  readonly readMaxBytes: number;
  /** Largest request message sent. */
  readonly writeMaxBytes: number;
  /** Protobuf binary options. */
  readonly binaryOptions: Parameters<typeof createMethodSerializationLookup>[1];
  /** Protobuf JSON options (the Connect path's JSON format; gRPC is binary only). */
  readonly jsonOptions?: Parameters<typeof createMethodSerializationLookup>[2];
}

const { NGHTTP2_CANCEL } = http2.constants;

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
  sizes?: MessageSizes,
): Promise<UnaryResponse<I, O>> {
  const serialization = serializers.get(method, options);
  if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  let body: Uint8Array;
  try {
    // As connect's transports do: an init object becomes a message first.
    const message = isMessage(input, method.input) ? input : create(method.input, input);
    body = frame(serialization.getI(true).serialize(message));
    if (sizes) sizes.sent = body.length - 5;
  } catch (err) {
    return Promise.reject(ConnectError.from(err));
  }
  const path = `/${method.parent.typeName}/${method.name}`;
  const nodeHeaders = requestHeaders(timeoutMs, header);
  nodeHeaders[":method"] = "POST";
  nodeHeaders[":path"] = path;
  let responseHeaders: http2.IncomingHttpHeaders | undefined;
  let trailers: http2.IncomingHttpHeaders | undefined;
  const chunks: Buffer[] = [];
  let received = 0;
  return unaryExchange<UnaryResponse<I, O>>(subchannel, nodeHeaders, body, signal, timeoutMs, {
    // connect-node's gRPC transport resets a stream it gives up on with CANCEL.
    resetCode: () => NGHTTP2_CANCEL,
    onHeaders: sizes?.onHeaders,
    read(s, call) {
      let lengthChecked = false;
      s.on("response", (h) => {
        responseHeaders = h;
      });
      s.on("trailers", (t) => {
        trailers = t;
      });
      s.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        // Stop reading as soon as the first envelope's length is over the limit.
        if (!lengthChecked && received >= 5) {
          lengthChecked = true;
          const length = Buffer.concat(chunks, received).readUInt32BE(1);
          if (length > options.readMaxBytes) call.finish(readMaxBytesError(length, options.readMaxBytes));
        }
      });
      s.on("close", () => {
        // One response message: its envelope's 5 bytes are framing, not message.
        if (sizes && received >= 5) sizes.rcvd = received - 5;
      });
    },
    closed(_s, call, sessionLost) {
      if (!responseHeaders) {
        call.finish(
          sessionLost
            ? connectionLostError()
            : new ConnectError("protocol error: stream closed without a response", Code.Internal),
        );
        return;
      }
      try {
        call.finish(
          undefined,
          decodeResponse(method, serialization, options, responseHeaders, trailers, chunks, received),
        );
      } catch (err) {
        call.finish(ConnectError.from(err));
      }
    },
  });
}

/** Serialization lookups per method, built once instead of per call. */
export class SerializerCache {
  private readonly byMethod = new WeakMap<object, MethodSerializationLookup<DescMessage, DescMessage>>();

  /** The lookup for `method`, made on first use. */
  get(method: DescMethodUnary<DescMessage, DescMessage>, options: FastUnaryOptions) {
    let s = this.byMethod.get(method);
    if (!s) {
      s = createMethodSerializationLookup(method, options.binaryOptions, options.jsonOptions, options);
      this.byMethod.set(method, s);
    }
    return s;
  }
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
