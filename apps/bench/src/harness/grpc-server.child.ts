#!/usr/bin/env node
/**
 * A grpc-js server for `/rng.Rng/Rng` in its own process:
 * `node grpc-server.child.js '{"host":...,"port":...}'`. Prints one JSON line
 * `{"msg":"listening","address":...}` once bound; exits on SIGTERM.
 * It takes our own server's speed out of the client comparison.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type RN, RNSchema, type Source, SourceSchema } from "@rngbalance/proto";
import { RNG_PATH } from "./cell.js";
import { childArgs } from "./child.js";

/** Where to listen (port 0: any). */
export interface GrpcServerArgs {
  readonly host: string;
  readonly port: number;
}

const { host, port } = childArgs<GrpcServerArgs>({ host: "string", port: "number" });
const rn = BigInt(Math.floor(Math.random() * 2 ** 52));

const server = new grpc.Server();
server.register<Source, RN>(
  RNG_PATH,
  (_call: grpc.ServerUnaryCall<Source, RN>, callback: grpc.sendUnaryData<RN>) => {
    callback(null, create(RNSchema, { RN: rn }));
  },
  (m: RN) => Buffer.from(toBinary(RNSchema, m)),
  (b: Buffer) => fromBinary(SourceSchema, b),
  "unary",
);

server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(
    `${JSON.stringify({ msg: "listening", address: `${host}:${bound}`, rn: String(rn) })}\n`,
  );
});

process.once("SIGTERM", () => {
  server.tryShutdown(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
