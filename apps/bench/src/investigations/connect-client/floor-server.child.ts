/**
 * The server of the connect-client investigation: `node:http2` answering
 * every `/rng.Rng/Rng` call, once its request has ended, with fixed bytes
 * in the protocol and format the request asked for (gRPC, Connect binary,
 * Connect JSON). It does next to nothing per call, so the client's CPU per
 * call is measured without a server holding the client back.
 * Prints one JSON line `{"msg":"listening","address":"host:port"}` once
 * bound; exits on SIGTERM.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { RNSchema } from "@rngbalance/proto";
import { childArgs } from "../../harness/child.js";

/** Where to listen (port 0: any). */
export interface FloorServerArgs {
  readonly host: string;
  readonly port: number;
}

const { host, port } = childArgs<FloorServerArgs>({ host: "string", port: "number" });
const rn = create(RNSchema, { RN: BigInt(Math.floor(Math.random() * 2 ** 52)) });
const binary = toBinary(RNSchema, rn);
const json = Buffer.from(toJsonString(RNSchema, rn));
const enveloped = Buffer.alloc(5 + binary.length);
enveloped.writeUInt32BE(binary.length, 1);
enveloped.set(binary, 5);

const server = http2.createServer();
server.on("session", (s) => s.on("error", () => {}));
server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  const type = headers["content-type"];
  stream.resume();
  stream.on("end", () => {
    if (stream.destroyed) return;
    if (type === "application/proto" || type === "application/json") {
      const body = type === "application/proto" ? binary : json;
      stream.respond({ ":status": 200, "content-type": type, "content-length": body.length });
      stream.end(body);
      return;
    }
    stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(enveloped);
  });
});
server.listen(port, host, () => {
  const address = `${host}:${(server.address() as AddressInfo).port}`;
  process.stdout.write(`${JSON.stringify({ msg: "listening", address })}\n`);
});
process.once("SIGTERM", () => {
  server.close();
  process.exit(0);
});
