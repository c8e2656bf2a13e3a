import * as http2 from "node:http2";
import { percentEncodeGrpcMessage } from "./grpc-message.js";

const { NGHTTP2_REFUSED_STREAM } = http2.constants;

/**
 * Ends one stream with a status that says "not served here, retry
 * elsewhere" (a drain's last resort, see `Http2Sessions.cutAll`).
 */
export function refuseStream(stream: http2.ServerHttp2Stream, grpc: boolean, reason: string): void {
  if (stream.destroyed || stream.closed) return;
  if (grpc && !stream.headersSent) {
    try {
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": "14",
          "grpc-message": percentEncodeGrpcMessage(reason),
        },
        { endStream: true },
      );
      return;
    } catch {
      // Fall through to the reset: the stream was in no state to answer.
    }
  }
  stream.close(NGHTTP2_REFUSED_STREAM);
}

/** gRPC over HTTP/2 (application/grpc, +proto, +json...), not gRPC-Web: the calls a trailers-only status can end. */
export function isGrpc(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/grpc(\+|;|$)/.test(contentType);
}
