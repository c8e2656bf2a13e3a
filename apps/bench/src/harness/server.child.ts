#!/usr/bin/env node
/**
 * One server of the server table in its own process:
 * `node server.child.js '{"kind":...,"host":...,"port":...}'`, kind one of
 * - `stock-connect`: stock connect-node, `connectNodeAdapter` on
 *   `http2.createServer`, serving `/rng.Rng/Rng` with an implementation like
 *   rng-server's, and nothing else;
 * - `rng-server-no-fast-path`: the Rng server (`startRngServer`, health,
 *   reflection, listener and all) with `fastPath: false`;
 * - `bare-http2`: the floor, not a product: `node:http2` answering every
 *   stream, once its request has ended, with the same fixed bytes
 *   (headers, one RN message, `grpc-status: 0`).
 * Prints one JSON line `{"msg":"listening","address":"host:port"}` once
 * bound; exits on SIGTERM.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createJsonLogger } from "@rngbalance/connect-server";
import { RNSchema, Rng } from "@rngbalance/proto";
import { startRngServer } from "@rngbalance/rng-server";

import { childArgs } from "./child.js";

/** What the parent asks for: which server, on which address (port 0: any). */
export interface ServerChildArgs {
  readonly kind: "stock-connect" | "rng-server-no-fast-path" | "bare-http2";
  readonly host: string;
  readonly port: number;
}

const { kind, host, port } = childArgs<ServerChildArgs>({ kind: "string", host: "string", port: "number" });
const rn = BigInt(Math.floor(Math.random() * 2 ** 52));

function listening(address: string): void {
  process.stdout.write(`${JSON.stringify({ msg: "listening", address, rn: String(rn) })}\n`);
}

async function listen(server: http2.Http2Server): Promise<void> {
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  listening(`${host}:${(server.address() as AddressInfo).port}`);
  process.once("SIGTERM", () => {
    server.close();
    process.exit(0);
  });
}

switch (kind) {
  case "stock-connect": {
    const handler = connectNodeAdapter({
      readMaxBytes: 4 * 1024 * 1024,
      routes: (router) => router.service(Rng, { rng: () => ({ RN: rn }) }),
    });
    await listen(http2.createServer({}, handler));
    break;
  }
  case "rng-server-no-fast-path": {
    // Silent: the parent reads only the first stdout line.
    const logger = createJsonLogger({ write() {} });
    const server = await startRngServer({ host, port, rn, fastPath: false, logger });
    listening(`${host}:${server.address.port}`);
    process.once("SIGTERM", () => {
      server.drain().then(() => process.exit(0));
    });
    break;
  }
  case "bare-http2": {
    const message = toBinary(RNSchema, create(RNSchema, { RN: rn }));
    const body = Buffer.alloc(5 + message.length);
    body.writeUInt32BE(message.length, 1);
    body.set(message, 5);
    const headers = { ":status": 200, "content-type": "application/grpc+proto" };
    const trailers = { "grpc-status": "0" };
    const server = http2.createServer();
    server.on("stream", (stream) => {
      stream.on("error", () => {});
      stream.on("wantTrailers", () => stream.sendTrailers(trailers));
      stream.on("end", () => {
        if (stream.closed || stream.destroyed) return;
        stream.respond(headers, { waitForTrailers: true });
        stream.end(body);
      });
      stream.resume();
    });
    await listen(server);
    break;
  }
  default:
    process.stderr.write(`unknown server kind "${kind}"\n`);
    process.exit(2);
}
