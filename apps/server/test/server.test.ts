import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import * as http2 from "node:http2";
import { createRequire } from "node:module";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "@rngbalance/grpc-protos";
import { ServerReflection as ReflectionV1 } from "@rngbalance/grpc-protos/grpc/reflection/v1";
import { ServerReflection as ReflectionV1alpha } from "@rngbalance/grpc-protos/grpc/reflection/v1alpha";
import { RngService } from "@rngbalance/proto";
import { GenerateRequestSchema } from "@rngbalance/proto/rng/v1";
import type { RngServerProcess } from "@rngbalance/rng-fleet";
import { grpcFrame, grpcStatus, rawGrpcCall, rngClient, spawnAppServer, TRANSPORTS } from "./helpers.js";

const exec = promisify(execFile);
const BUF = createRequire(import.meta.url).resolve("@bufbuild/buf/bin/buf");

describe("rng-server", () => {
  let a: RngServerProcess;
  let b: RngServerProcess;
  before(async () => {
    [a, b] = await Promise.all([
      spawnAppServer({ args: ["--read-max-bytes", "1024"] }),
      spawnAppServer({ host: "127.0.0.2" }),
    ]);
  });
  after(async () => {
    assert.deepEqual(await a.stop(), { code: 0, signal: null });
    assert.deepEqual(await b.stop(), { code: 0, signal: null });
  });

  for (const { name, make } of TRANSPORTS) {
    it(`serves /rng.Rng/Rng over ${name}, same number every call`, async () => {
      const client = rngClient(make(`http://${a.address}`));
      for (let i = 0; i < 3; i++) assert.equal((await client.rng({})).RN, a.rn);
    });
  }

  it("gives each instance its own number", async () => {
    assert.notEqual(a.rn, b.rn);
    const rnB = await rngClient(createGrpcTransport({ baseUrl: `http://${b.address}` })).rng({});
    assert.equal(rnB.RN, b.rn);
  });

  it("serves rng.v1.RngService with the instance name, and streams", async () => {
    const client = createClient(RngService, createGrpcTransport({ baseUrl: `http://${a.address}` }));
    const res = await client.generate({ delayMs: 5 });
    assert.equal(res.rn, a.rn);
    assert.match(res.instance, new RegExp(`/${a.address.replaceAll(".", "\\.")}$`));
    const seqs: number[] = [];
    for await (const m of client.generateStream({ count: 3, intervalMs: 1 })) seqs.push(m.sequence);
    assert.deepEqual(seqs, [0, 1, 2]);
    await assert.rejects(
      client.generate({ delayMs: 60_001 }),
      (e) => ConnectError.from(e).code === Code.InvalidArgument,
    );
  });

  it("serves a grpc-js client on the legacy path /rng.Rng/Rng", async () => {
    const grpc = await import("@grpc/grpc-js");
    const client = new grpc.Client(a.address, grpc.credentials.createInsecure());
    try {
      const rn = await new Promise<bigint>((resolve, reject) =>
        client.makeUnaryRequest(
          "/rng.Rng/Rng",
          () => Buffer.alloc(0), // rng.Source {} encodes to zero bytes
          (buf: Buffer) => decodeRN(buf),
          {},
          (err, value) => (err ? reject(err) : resolve(value as bigint)),
        ),
      );
      assert.equal(rn, a.rn);
      const status = await new Promise<number>((resolve) =>
        client.makeUnaryRequest(
          "/rng.Rng/Nope",
          () => Buffer.alloc(0),
          (buf: Buffer) => buf,
          {},
          (err) => resolve(err?.code ?? 0),
        ),
      );
      assert.equal(status, grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it("lists and calls through reflection with buf curl", async () => {
    const base = `http://${a.address}`;
    const flags = ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];
    const list = await exec(BUF, [...flags, "--list-services", base]);
    assert.deepEqual(list.stdout.trim().split("\n").sort(), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "rng.Rng",
      "rng.v1.RngService",
    ]);
    const call = await exec(BUF, [...flags, `${base}/rng.Rng/Rng`]);
    assert.deepEqual(JSON.parse(call.stdout), { RN: a.rn.toString() });
    const gen = await exec(BUF, [...flags, "-d", '{"delayMs":1}', `${base}/rng.v1.RngService/Generate`]);
    assert.equal(JSON.parse(gen.stdout).rn, a.rn.toString());
  });

  it("answers reflection v1 and v1alpha, including file_containing_symbol for a method", async () => {
    for (const service of [ReflectionV1, ReflectionV1alpha]) {
      const client = createClient(service, createGrpcTransport({ baseUrl: `http://${a.address}` }));
      async function* requests() {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
        yield { messageRequest: { case: "fileContainingSymbol" as const, value: "rng.Rng.Rng" } };
        yield { messageRequest: { case: "fileByFilename" as const, value: "nope.proto" } };
      }
      const answers = [];
      for await (const res of client.serverReflectionInfo(requests())) answers.push(res.messageResponse);
      assert.equal(answers[0]?.case, "listServicesResponse");
      assert.equal(answers[1]?.case, "fileDescriptorResponse");
      assert.equal(answers[2]?.case, "errorResponse");
      assert.equal(answers[2]?.case === "errorResponse" && answers[2].value.errorCode, Code.NotFound);
    }
  });

  it("answers health Check for the server and each service, NOT_FOUND for others", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${a.address}` }));
    for (const service of ["", "rng.Rng", "rng.v1.RngService"]) {
      assert.equal((await health.check({ service })).status, HealthCheckResponse_ServingStatus.SERVING);
    }
    await assert.rejects(
      health.check({ service: "nope" }),
      (e) => ConnectError.from(e).code === Code.NotFound,
    );
  });

  it("rejects malformed protobuf and truncated frames with a gRPC error, and keeps serving", async () => {
    // Field 1 as a length-delimited field whose length runs past the end.
    const garbage = grpcFrame(Uint8Array.from([0x0a, 0xff, 0x01, 0x02]));
    const r = await rawGrpcCall(a.address, "/rng.v1.RngService/Generate", garbage);
    assert.ok([Code.InvalidArgument, Code.Internal].includes(grpcStatus(r)), `status ${grpcStatus(r)}`);
    // A truncated frame: header says 100 bytes, 3 follow.
    const truncated = Buffer.concat([Buffer.from([0, 0, 0, 0, 100]), Buffer.from([1, 2, 3])]);
    const t = await rawGrpcCall(a.address, "/rng.v1.RngService/Generate", truncated);
    assert.ok(grpcStatus(t) > 0, "truncated frame must fail");
    assert.equal((await rngClient(createGrpcTransport({ baseUrl: `http://${a.address}` })).rng({})).RN, a.rn);
  });

  it("rejects a request over the read limit with RESOURCE_EXHAUSTED", async () => {
    // 2000 bytes of an unknown field: valid protobuf, over --read-max-bytes 1024.
    const big = Buffer.concat([
      Buffer.from(toBinary(GenerateRequestSchema, create(GenerateRequestSchema, { delayMs: 0 }))),
      Buffer.from([0x7a, 0xd0, 0x0f]), // field 15, wire type 2, length 2000
      Buffer.alloc(2000, 1),
    ]);
    const r = await rawGrpcCall(a.address, "/rng.v1.RngService/Generate", grpcFrame(big));
    assert.equal(grpcStatus(r), Code.ResourceExhausted);
  });

  it("answers an unknown method with UNIMPLEMENTED in each protocol", async () => {
    const r = await rawGrpcCall(a.address, "/rng.Nope/Nope", grpcFrame(new Uint8Array()));
    assert.equal(grpcStatus(r), Code.Unimplemented);
    const res = await fetch(`http://${a.address}/rng.Nope/Nope`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: string }).code, "unimplemented");
  });
});

describe("rng-server graceful drain", () => {
  it("on SIGTERM: health NOT_SERVING, in-flight call completes, new connections refused, exit 0", async () => {
    const server = await spawnAppServer({ args: ["--drain-timeout-ms", "5000"] });
    const transport = createGrpcTransport({ baseUrl: `http://${server.address}` });
    const health = createClient(Health, transport);
    const statuses: HealthCheckResponse_ServingStatus[] = [];
    const watching = (async () => {
      for await (const res of health.watch({ service: "" })) statuses.push(res.status);
    })();
    const inFlight = createClient(RngService, transport).generate({ delayMs: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    server.child.kill("SIGTERM");
    await waitForLog(server, "draining");
    await assert.rejects(connectOnce(server.host, server.port), /ECONNREFUSED/);
    assert.equal((await inFlight).rn, server.rn);
    await watching; // the Watch stream ends after delivering NOT_SERVING
    assert.deepEqual(statuses, [
      HealthCheckResponse_ServingStatus.SERVING,
      HealthCheckResponse_ServingStatus.NOT_SERVING,
    ]);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  it("cuts calls that outlive the drain timeout and still exits 0", async () => {
    const server = await spawnAppServer({ args: ["--drain-timeout-ms", "200"] });
    const client = createClient(RngService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
    const slow = client.generate({ delayMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    server.child.kill("SIGTERM");
    await assert.rejects(slow, (e) => e instanceof ConnectError);
    assert.deepEqual(await server.exited, { code: 0, signal: null });
    assert.ok(Date.now() - started < 5000, "drain timeout bounds shutdown");
    assert.ok(server.logs.some((l) => l.msg === "drained" && Number(l.connectionsCut) === 1));
  });

  it("exits 2 with a message that names the bad flag", async () => {
    await assert.rejects(
      spawnAppServer({ args: ["--drain-timeout-ms", "soon"] }),
      /--drain-timeout-ms must be a whole number/,
    );
    await assert.rejects(spawnAppServer({ args: ["--bogus"] }), /exited \(2\).*bogus/s);
  });
});

function decodeRN(buf: Buffer): bigint {
  // rng.RN { int64 RN = 1; }: tag 0x08 then a varint; empty means 0.
  if (buf.length === 0) return 0n;
  assert.equal(buf[0], 0x08);
  let value = 0n;
  for (let i = 1, shift = 0n; i < buf.length; i++, shift += 7n) {
    value |= BigInt(buf[i]! & 0x7f) << shift;
    if ((buf[i]! & 0x80) === 0) break;
  }
  return BigInt.asIntN(64, value);
}

function connectOnce(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

async function waitForLog(server: RngServerProcess, msg: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (server.logs.some((l) => l.msg === msg)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no "${msg}" log line`);
}

describe("rng-server max connection age", () => {
  it("sends GOAWAY to a connection older than --max-connection-age-ms, and serves new ones", async () => {
    const server = await spawnAppServer({ args: ["--max-connection-age-ms", "300"] });
    try {
      const session = http2.connect(`http://${server.address}`);
      const started = Date.now();
      const [code] = (await once(session, "goaway")) as [number];
      const ageMs = Date.now() - started;
      assert.equal(code, http2.constants.NGHTTP2_NO_ERROR);
      assert.ok(ageMs >= 250 && ageMs < 2000, `GOAWAY after ${ageMs} ms`);
      session.destroy();
      const rn = await rngClient(createGrpcTransport({ baseUrl: `http://${server.address}` })).rng({});
      assert.equal(rn.RN, server.rn);
    } finally {
      await server.stop();
    }
  });
});
