import type * as http from "node:http";
import type * as http2 from "node:http2";
import type {
  DescMessage,
  DescMethod,
  DescService,
  JsonReadOptions,
  JsonWriteOptions,
} from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext, Interceptor, MethodImplSpec } from "@connectrpc/connect";
import type { Compression, Serialization } from "@connectrpc/connect/protocol";
import type { JsonLimits } from "../json-limits.js";
import type { ServerTelemetry } from "../telemetry/server-telemetry.js";
import type { UnaryTrailerHook } from "./trailer-hook.js";

/** One unary method as the fast path serves it: everything per call precomputed. */
export interface FastMethod {
  readonly spec: MethodImplSpec & { kind: "unary" };
  readonly method: DescMethod;
  readonly service: DescService;
  readonly output: DescMessage;
  readonly impl: (request: unknown, context: HandlerContext) => unknown;
  /** Served fast over gRPC (binary). */
  readonly grpc: boolean;
  /** Served fast over the Connect protocol (unary POST, binary and JSON). */
  readonly connect: boolean;
  /** Connect GET allowed: the method is marked `idempotency_level = NO_SIDE_EFFECTS`. */
  readonly connectGet: boolean;
  /** Binary request parsing and response serialization, with connect's read/write limits and errors. */
  readonly parse: Serialization<unknown>["parse"];
  readonly serialize: Serialization<unknown>["serialize"];
  /** The same for JSON (Connect `application/json`). */
  readonly parseJson: Serialization<unknown>["parse"];
  readonly serializeJson: Serialization<unknown>["serialize"];
  /** connect's `jsonOptions`, for error details' `debug` in Connect error JSON. */
  readonly jsonOptions: Partial<JsonReadOptions & JsonWriteOptions> | undefined;
  /** JSON request limits (size, depth), checked as the body streams in; none when undefined. */
  readonly jsonLimits: JsonLimits | undefined;
  /** Connect calls must carry `connect-protocol-version: 1` (or `connect=v1` on a GET). */
  readonly requireConnectProtocolHeader: boolean;
  readonly readMaxBytes: number;
  readonly compressMinBytes: number;
  readonly maxTimeoutMs: number;
  readonly acceptCompression: Compression[];
  readonly shutdownSignal: AbortSignal | undefined;
  readonly interceptors: Interceptor[];
  readonly contextValues:
    | ((req: http.IncomingMessage | http2.Http2ServerRequest) => ContextValues)
    | undefined;
  /** Response compression per grpc-accept-encoding value seen, so negotiation runs once per value. */
  readonly negotiated: Map<string, Compression | null>;
  /** The same per Connect accept-encoding value. */
  readonly negotiatedConnect: Map<string, Compression | null>;
  /** "rng.Rng/Rng": the method's `grpc.method` for telemetry. */
  readonly fullName: string;
  /** The server's telemetry hook, when it has one (see ServerTelemetry). */
  readonly telemetry: ServerTelemetry | undefined;
  /** The server's unary trailer hook (ORCA reports), when it has one. */
  readonly trailerHook: UnaryTrailerHook | undefined;
  /** Told of an exception that escaped a call's own handling (see GrpcUnaryFastPathOptions). */
  readonly onEscapedError: (
    err: unknown,
    stream: http2.ServerHttp2Stream | http.ServerResponse,
    method: string,
  ) => void;
  /** How an HTTP/1.1 request's body bytes are charged to its connection (see GrpcUnaryFastPathOptions); none when undefined. */
  readonly chargeRequestBytes:
    | ((req: http.IncomingMessage) => ((delta: number) => boolean) | undefined)
    | undefined;
}
