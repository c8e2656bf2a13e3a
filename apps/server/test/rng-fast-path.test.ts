/**
 * The real Rng server with and without its fast path (`fastPath` option):
 * the same calls give the same bytes, and the fast path really serves the
 * unary Rng, RngService and Health methods (seen on its diagnostics
 * channel), while streaming, reflection and unknown paths fall back.
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import * as http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { createJsonLogger, FAST_PATH_CHANNEL, type FastPathDecision } from "@rngbalance/connect-server";
import { HealthCheckRequestSchema } from "@rngbalance/grpc-protos";
import { GenerateRequestSchema, GenerateStreamRequestSchema } from "@rngbalance/proto/rng/v1";
import { type RngServer, startRngServer } from "@rngbalance/rng-server";
import { grpcFrame } from "./helpers.js";

interface RawResult {
  response: string[];
  body: string;
  trailers: string[];
}

/** One raw gRPC call; headers in wire order without date, the server's port masked. */
async function raw(address: string, path: string, message: Uint8Array): Promise<RawResult> {
  const session = http2.connect(`http://${address}`);
  const port = address.slice(address.lastIndexOf(":") + 1);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-accept-encoding": "gzip",
      });
      // Error messages name the instance, whose name ends with the server's own address.
      const clean = (rawHeaders: string[]) =>
        rawHeaders.flatMap((v, i) =>
          i % 2 === 0 && v !== "date" ? [`${v}: ${rawHeaders[i + 1]}`.replaceAll(port, "<port>")] : [],
        );
      let response: string[] = [];
      let trailers: string[] = [];
      const body: Buffer[] = [];
      stream.on("response", ((_h: unknown, _f: unknown, r: string[]) => {
        response = clean(r);
      }) as never);
      stream.on("trailers", ((_h: unknown, _f: unknown, r: string[]) => {
        trailers = clean(r);
      }) as never);
      stream.on("data", (chunk: Buffer) => body.push(chunk));
      stream.on("error", reject);
      stream.on("close", () =>
        resolve({
          response,
          // The instance name in Generate answers ends with the server's own port.
          body: Buffer.concat(body).toString("latin1").replaceAll(port, "<port>"),
          trailers,
        }),
      );
      stream.end(grpcFrame(message));
    });
  } finally {
    session.close();
  }
}

const CALLS: { path: string; message: Uint8Array; served: FastPathDecision["served"] }[] = [
  { path: "/rng.Rng/Rng", message: new Uint8Array(), served: "fast" },
  {
    path: "/rng.v1.RngService/Generate",
    message: toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { delayMs: 1 })),
    served: "fast",
  },
  {
    path: "/rng.v1.RngService/Generate",
    message: toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { delayMs: 60_001 })),
    served: "fast",
  },
  {
    path: "/grpc.health.v1.Health/Check",
    message: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "rng.Rng" })),
    served: "fast",
  },
  {
    path: "/grpc.health.v1.Health/Check",
    message: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service: "nope" })),
    served: "fast",
  },
  {
    path: "/rng.v1.RngService/GenerateStream",
    message: toBinary(GenerateStreamRequestSchema, create(GenerateStreamRequestSchema, { count: 2 })),
    served: "fallback",
  },
  { path: "/rng.Rng/Nope", message: new Uint8Array(), served: "fallback" },
];

for (const fault of ["none", "unavailable"] as const) {
  describe(`rng-server fast path (fault ${fault})`, () => {
    let fast: RngServer;
    let stock: RngServer;
    const decisions: FastPathDecision[] = [];
    const onDecision = (d: unknown) => decisions.push(d as FastPathDecision);
    before(async () => {
      const common = {
        host: "127.0.0.1",
        port: 0,
        rn: 1234n,
        fault,
        logger: createJsonLogger({ write() {} }),
      };
      [fast, stock] = await Promise.all([
        startRngServer({ ...common, fastPath: true }),
        startRngServer({ ...common, fastPath: false }),
      ]);
      subscribe(FAST_PATH_CHANNEL, onDecision);
    });
    after(async () => {
      unsubscribe(FAST_PATH_CHANNEL, onDecision);
      await Promise.all([fast.drain(), stock.drain()]);
    });

    for (const c of CALLS) {
      it(`${c.path} (${c.served}): the same response with the fast path as without`, async () => {
        decisions.length = 0;
        const withoutFast = await raw(`127.0.0.1:${stock.address.port}`, c.path, c.message);
        assert.deepEqual(decisions, [], "fastPath: false makes no fast path decision");
        const withFast = await raw(`127.0.0.1:${fast.address.port}`, c.path, c.message);
        assert.deepEqual(withFast, withoutFast);
        assert.deepEqual(decisions, [{ path: c.path, served: c.served }]);
      });
    }
  });
}
