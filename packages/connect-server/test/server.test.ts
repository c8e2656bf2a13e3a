import assert from "node:assert/strict";
import { once } from "node:events";
import * as net from "node:net";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, Rng, HealthCheckResponse_ServingStatus as ServingStatus } from "@rngbalance/proto";
import { createJsonLogger, limitJsonBody, startConnectServer } from "../src/index.js";

const quiet = createJsonLogger({ write: () => {} });

async function* chunks(...parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) yield Buffer.from(p);
}

async function drainBody(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.length;
  return n;
}

describe("limitJsonBody", () => {
  const limits = { readMaxBytes: 64, maxDepth: 3 };
  it("passes JSON within the limits, across chunk boundaries and strings with brackets", async () => {
    const body = chunks('{"a":[[', '1]],"s":"[[[[\\"[["', "}");
    assert.equal(await drainBody(limitJsonBody(body, "body", limits, undefined)), 26);
  });
  it("refuses nesting deeper than maxDepth with INVALID_ARGUMENT", async () => {
    await assert.rejects(
      drainBody(limitJsonBody(chunks("[[[", "["), "body", limits, undefined)),
      (e) => e instanceof ConnectError && e.code === Code.InvalidArgument && /deeper than 3/.test(e.message),
    );
  });
  it("refuses a body over the limit with RESOURCE_EXHAUSTED, before reading it when Content-Length says so", async () => {
    let read = false;
    const body = (async function* () {
      read = true;
      yield Buffer.alloc(1);
    })();
    await assert.rejects(drainBody(limitJsonBody(body, "body", limits, "65")), (e) => {
      return e instanceof ConnectError && e.code === Code.ResourceExhausted;
    });
    assert.equal(read, false);
    await assert.rejects(
      drainBody(limitJsonBody(chunks("x".repeat(65)), "body", limits, undefined)),
      /JSON limit of 64/,
    );
  });
  it("applies the limits per message in enveloped streams, and skips compressed payloads", async () => {
    const envelope = (flags: number, json: string) => {
      const b = Buffer.alloc(5 + json.length);
      b[0] = flags;
      b.writeUInt32BE(json.length, 1);
      b.write(json, 5);
      return b;
    };
    const ok = [envelope(0, "[[1]]"), envelope(0, "[[2]]"), envelope(1, "[[[[[[[[")];
    const body = (async function* () {
      for (const b of ok) for (const byte of b) yield Buffer.from([byte]); // one byte at a time
    })();
    assert.equal(await drainBody(limitJsonBody(body, "enveloped", limits, undefined)), 33);
    await assert.rejects(
      drainBody(
        limitJsonBody(chunks(envelope(0, "[[[[]]]]").toString("latin1")), "enveloped", limits, undefined),
      ),
      /deeper than 3/,
    );
  });
});

describe("startConnectServer", () => {
  it("serves the routes with health for each service, and drains with an idle socket open", async () => {
    const server = await startConnectServer({
      host: "127.0.0.1",
      port: 0,
      logger: quiet,
      drainTimeoutMs: 500,
      services: [Rng],
      routes: (router) => router.service(Rng, { rng: () => ({ RN: 7n }) }),
    });
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.address.port}` });
    assert.equal((await createClient(Rng, transport).rng({})).RN, 7n);
    const health = createClient(Health, transport);
    for (const service of ["", "rng.Rng"]) {
      assert.equal((await health.check({ service })).status, ServingStatus.SERVING);
    }
    // An unknown method names what is served.
    await assert.rejects(
      createClient(
        Health,
        createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.address.port}/nope` }),
      ).check({}),
      (e) =>
        e instanceof ConnectError &&
        e.code === Code.Unimplemented &&
        /serves \/grpc\.health\.v1\.Health\/\*/.test(e.message),
    );
    const silent = net.connect({ host: "127.0.0.1", port: server.address.port });
    await once(silent, "connect");
    silent.resume();
    const silentClosed = once(silent, "close");
    const started = Date.now();
    await server.drain();
    assert.ok(Date.now() - started < 500, "a silent socket does not hold the drain up");
    assert.equal(server.health.getStatus(""), ServingStatus.NOT_SERVING);
    await silentClosed;
  });
});
