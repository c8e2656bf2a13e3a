#!/usr/bin/env node
/**
 * Many idle endpoints for the microbenchmarks: ONE tiny h2c gRPC server
 * behind N listening sockets on 127.0.0.1 (ports picked by the OS), in its
 * own process so its memory does not count as the client's.
 * `node farm.child.js '{"count":N}'` prints `{"msg":"listening","addresses":["127.0.0.1:P",...]}`.
 *
 * It answers `/rng.Rng/Rng`, `grpc.health.v1.Health/Watch` (SERVING, then
 * keeps the stream open, as a real server does) and `Health/Check`; anything
 * else is UNIMPLEMENTED.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { childArgs } from "./child.js";

/** How many listening sockets. */
export interface FarmArgs {
  readonly count: number;
}

const { count } = childArgs<FarmArgs>({ count: "number" });

/** A gRPC length-prefixed message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** rng.RN { RN: 42 } and grpc.health.v1.HealthCheckResponse { status: SERVING }. */
const RN_FRAME = frame(Uint8Array.of(0x08, 42));
const SERVING_FRAME = frame(Uint8Array.of(0x08, 1));
const GRPC_HEADERS = { ":status": 200, "content-type": "application/grpc" };

const server = http2.createServer();
server.on("session", (session) => session.on("error", () => {}));
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  const path = headers[":path"];
  if (path === "/rng.Rng/Rng" || path === "/grpc.health.v1.Health/Check") {
    const body = path === "/rng.Rng/Rng" ? RN_FRAME : SERVING_FRAME;
    stream.resume();
    stream.once("end", () => {
      if (stream.destroyed) return;
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(body);
    });
  } else if (path === "/grpc.health.v1.Health/Watch") {
    stream.resume();
    stream.respond(GRPC_HEADERS);
    stream.write(SERVING_FRAME);
  } else {
    stream.resume();
    stream.respond(
      { ...GRPC_HEADERS, "grpc-status": "12", "grpc-message": "unimplemented" },
      { endStream: true },
    );
  }
});

async function main(): Promise<void> {
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) {
    const listener = net.createServer((socket) => server.emit("connection", socket));
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen({ host: "127.0.0.1", port: 0, backlog: 1024 }, resolve);
    });
    addresses.push(`127.0.0.1:${(listener.address() as net.AddressInfo).port}`);
  }
  process.stdout.write(`${JSON.stringify({ msg: "listening", addresses })}\n`);
}

process.once("SIGTERM", () => process.exit(0));
main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
