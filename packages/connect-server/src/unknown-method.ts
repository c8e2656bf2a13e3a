import { Code } from "@connectrpc/connect";
import type { NodeHandler } from "./connect-handler.js";
import { percentEncodeGrpcMessage } from "./grpc-message.js";

/**
 * Answers a request for a path the router does not serve, in the protocol
 * the client speaks: gRPC and gRPC-Web clients get a trailers-only response
 * with status UNIMPLEMENTED (what grpc-go and grpc-js servers send), Connect
 * and plain HTTP clients get 404 with a Connect error body. The message
 * lists the services that are served, so a typo is easy to spot.
 */
export function createUnknownMethodFallback(serviceNames: readonly string[]): NodeHandler {
  const served = serviceNames.map((name) => `/${name}/*`).join(", ");
  return (req, res) => {
    const contentType = String(req.headers["content-type"] ?? "");
    const message = `unknown method ${req.url ?? ""}: this server serves ${served}`;
    // Drain the request body so the connection stays usable.
    req.resume();
    if (contentType.startsWith("application/grpc")) {
      const headers = {
        "content-type": contentType.startsWith("application/grpc-web")
          ? "application/grpc-web+proto"
          : "application/grpc",
        "grpc-status": String(Code.Unimplemented),
        "grpc-message": percentEncodeGrpcMessage(message),
      };
      if ("stream" in res) {
        // HTTP/2: a real trailers-only response, one HEADERS frame with
        // END_STREAM; grpc-js reads anything else as a missing-trailers error.
        // The peer may have reset the stream already (HEADERS then
        // RST_STREAM in one packet): then there is no one to answer.
        const stream = res.stream;
        if (stream.destroyed || stream.closed || stream.headersSent) return;
        try {
          stream.respond({ ":status": 200, ...headers }, { endStream: true });
        } catch {
          // Reset while we answered: gone either way.
        }
      } else {
        res.writeHead(200, headers);
        res.end();
      }
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ code: "unimplemented", message }));
  };
}
