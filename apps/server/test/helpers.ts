import * as http2 from "node:http2";
import { fileURLToPath } from "node:url";
import { createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { Rng } from "@rngbalance/proto";
import {
  type RngFleet,
  type RngFleetOptions,
  type RngServerProcess,
  type SpawnRngServerOptions,
  spawnRngServer,
  startRngFleet,
} from "@rngbalance/rng-fleet";

/** The app's built entry point (`apps/server/dist/main.js`): what the image runs, and what these tests spawn. */
export const APP_MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** `rng-server` as a child process, run from the app's entry point ({@link APP_MAIN}). */
export function spawnAppServer(options: SpawnRngServerOptions = {}): Promise<RngServerProcess> {
  return spawnRngServer({ main: APP_MAIN, ...options });
}

/** A fleet of `rng-server` pods, each run from the app's entry point ({@link APP_MAIN}). */
export function startAppFleet(options: RngFleetOptions = {}): Promise<RngFleet> {
  return startRngFleet({ main: APP_MAIN, ...options });
}

/** Every protocol/HTTP version pair the server must serve. */
export const TRANSPORTS: { name: string; make: (baseUrl: string) => Transport }[] = [
  { name: "grpc (h2c)", make: (baseUrl) => createGrpcTransport({ baseUrl }) },
  { name: "grpc-web (h2c)", make: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" }) },
  { name: "grpc-web (http/1.1)", make: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }) },
  { name: "connect (h2c)", make: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2" }) },
  { name: "connect (http/1.1)", make: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1" }) },
];

export function rngClient(transport: Transport) {
  return createClient(Rng, transport);
}

/** A gRPC frame: 1 byte flags, 4 bytes big-endian length, the message. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/**
 * Sends raw bytes as a gRPC request over a fresh HTTP/2 connection and
 * returns the response headers and trailers: for malformed input that no
 * well-behaved client would send.
 */
export async function rawGrpcCall(
  address: string,
  path: string,
  body: Uint8Array,
): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(`http://${address}`);
  try {
    return await new Promise((resolve, reject) => {
      session.once("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let headers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (trailers) => resolve({ headers, trailers }));
      stream.on("end", () => resolve({ headers, trailers: {} }));
      stream.on("error", reject);
      stream.resume();
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** grpc-status of a raw call, from the trailers or a trailers-only response. */
export function grpcStatus(r: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }) {
  return Number(r.trailers["grpc-status"] ?? r.headers["grpc-status"]);
}
