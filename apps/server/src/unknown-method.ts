import { Code } from "@connectrpc/connect";
import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { percentEncodeGrpcMessage } from "./grpc-message.js";

type NodeHandlerFn = NonNullable<ConnectNodeAdapterOptions["fallback"]>;

/**
 * Answers a request for a path the router does not serve, in the protocol
 * the client speaks: gRPC and gRPC-Web clients get a trailers-only response
 * with status UNIMPLEMENTED (what grpc-go and grpc-js servers send), Connect
 * and plain HTTP clients get 404 with a Connect error body.
 */
export const unknownMethodFallback: NodeHandlerFn = (req, res) => {
  const contentType = String(req.headers["content-type"] ?? "");
  const message = `unknown method ${req.url ?? ""}: this server serves /rng.Rng/Rng, /rng.v1.RngService/*, grpc.health.v1 and server reflection`;
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
      res.stream.respond({ ":status": 200, ...headers }, { endStream: true });
    } else {
      res.writeHead(200, headers);
      res.end();
    }
    return;
  }
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "unimplemented", message }));
};
