import type * as http2 from "node:http2";
import type * as tls from "node:tls";
import type {
  BinaryReadOptions,
  BinaryWriteOptions,
  JsonReadOptions,
  JsonWriteOptions,
} from "@bufbuild/protobuf";
import type { Interceptor } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";

/** The wire protocols a pool can speak; all three run over HTTP/2. */
export type PoolProtocol = "grpc" | "grpc-web" | "connect";

/** Extra `http2.connect()` options (settings, maxSessionMemory, ...); the pool makes its own sockets. */
export type PoolHttp2Options = Omit<http2.ClientSessionOptions, "createConnection">;

/** TLS settings: Node's `tls.connect()` options that make sense per pool. */
export type PoolTlsOptions = Pick<
  tls.ConnectionOptions,
  | "ca"
  | "cert"
  | "key"
  | "passphrase"
  | "pfx"
  | "servername"
  | "rejectUnauthorized"
  | "checkServerIdentity"
  | "minVersion"
>;

/**
 * The connect-node transport options a pool passes through to every
 * endpoint's transport (part of the pool's options, see options.ts).
 */
export interface EndpointTransportOptions {
  /**
   * Interceptors, run on every call the application makes, after the
   * endpoint is picked (so once per attempt when a call is retried). They
   * do not run on the pool's own health watches (see `healthCheck`).
   * Default: none (calls with interceptors take connect-node's path, not
   * the fast one).
   */
  interceptors?: Interceptor[];
  /** Binary (default) or JSON; JSON applies to Connect and gRPC-Web. Default true. */
  useBinaryFormat?: boolean;
  /** Protobuf JSON options. Default: protobuf-es defaults. */
  jsonOptions?: Partial<JsonReadOptions & JsonWriteOptions>;
  /** Protobuf binary options. Default: protobuf-es defaults. */
  binaryOptions?: Partial<BinaryReadOptions & BinaryWriteOptions>;
  /** Response compressions accepted. Default gzip and br, as connect-node. */
  acceptCompression?: Compression[];
  /** Request compression. Default none. */
  sendCompression?: Compression;
  /** Do not compress messages smaller than this. Default 1024. */
  compressMinBytes?: number;
  /** Largest response message accepted. Default ~4 GiB, as connect-node. */
  readMaxBytes?: number;
  /** Largest request message sent. Default ~4 GiB, as connect-node. */
  writeMaxBytes?: number;
  /**
   * Connect protocol only: unary calls of methods marked
   * `idempotency_level = NO_SIDE_EFFECTS` go as HTTP GET requests, the
   * message in the query string (cacheable), as connect-node's option of
   * the same name. Default false.
   */
  useHttpGet?: boolean;
}

const ENDPOINT_TRANSPORT_OPTION_KEYS = [
  "interceptors",
  "useBinaryFormat",
  "jsonOptions",
  "binaryOptions",
  "acceptCompression",
  "sendCompression",
  "compressMinBytes",
  "readMaxBytes",
  "writeMaxBytes",
  "useHttpGet",
] as const satisfies readonly (keyof EndpointTransportOptions)[];

/** The options of `o` passed through to every endpoint's transport, those set only. */
export function endpointTransportOptions(o: EndpointTransportOptions): EndpointTransportOptions {
  const out: Record<string, unknown> = {};
  for (const k of ENDPOINT_TRANSPORT_OPTION_KEYS) if (o[k] !== undefined) out[k] = o[k];
  return out as EndpointTransportOptions;
}
