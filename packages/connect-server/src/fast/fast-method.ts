import type * as http2 from "node:http2";
import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import type { ContextValues, HandlerContext, Interceptor, MethodImplSpec } from "@connectrpc/connect";
import type { Compression, Serialization } from "@connectrpc/connect/protocol";
import type { ServerTelemetry } from "../telemetry/server-telemetry.js";
import type { UnaryTrailerHook } from "./trailer-hook.js";

/** One unary method as the fast path serves it: everything per call precomputed. */
export interface FastMethod {
  readonly spec: MethodImplSpec & { kind: "unary" };
  readonly method: DescMethod;
  readonly service: DescService;
  readonly output: DescMessage;
  readonly impl: (request: unknown, context: HandlerContext) => unknown;
  readonly parse: Serialization<unknown>["parse"];
  readonly serialize: Serialization<unknown>["serialize"];
  readonly readMaxBytes: number;
  readonly compressMinBytes: number;
  readonly maxTimeoutMs: number;
  readonly acceptCompression: Compression[];
  readonly shutdownSignal: AbortSignal | undefined;
  readonly interceptors: Interceptor[];
  readonly contextValues: ((req: http2.Http2ServerRequest) => ContextValues) | undefined;
  /** Response compression per grpc-accept-encoding value seen, so negotiation runs once per value. */
  readonly negotiated: Map<string, Compression | null>;
  /** "rng.Rng/Rng": the method's `grpc.method` for telemetry. */
  readonly fullName: string;
  /** The server's telemetry hook, when it has one (see ServerTelemetry). */
  readonly telemetry: ServerTelemetry | undefined;
  /** The server's unary trailer hook (ORCA reports), when it has one. */
  readonly trailerHook: UnaryTrailerHook | undefined;
  /** Told of an exception that escaped a call's own handling (see GrpcUnaryFastPathOptions). */
  readonly onEscapedError: (err: unknown, stream: http2.ServerHttp2Stream, method: string) => void;
}
