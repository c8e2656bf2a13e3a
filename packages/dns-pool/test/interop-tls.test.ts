import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { createPoolTransport, type PoolTransport } from "@rngbalance/dns-pool";
import { RNSchema, Rng } from "@rngbalance/proto";
import { countBy, freePort, GRPC_JS_RNG } from "./support.js";

describe("interop: pool over @grpc/grpc-js servers", () => {
  const servers: { server: grpc.Server; rn: bigint }[] = [];
  let target: string;
  let pool: PoolTransport;

  before(async () => {
    const port = await freePort();
    for (const [i, host] of ["127.0.0.2", "127.0.0.3", "127.0.0.4"].entries()) {
      const rn = BigInt(1000 + i);
      const server = new grpc.Server();
      server.addService(GRPC_JS_RNG, {
        Rng: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
          callback(null, create(RNSchema, { RN: rn })),
      });
      await new Promise<void>((resolve, reject) =>
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
          err ? reject(err) : resolve(),
        ),
      );
      servers.push({ server, rn });
    }
    target = `ipv4:127.0.0.2:${port},127.0.0.3:${port},127.0.0.4:${port}`;
    pool = createPoolTransport({ target, connect: "eager" });
  });
  after(async () => {
    await pool.close();
    await Promise.all(servers.map(({ server }) => new Promise((r) => server.tryShutdown(r))));
  });

  it("balances /rng.Rng/Rng round robin across grpc-js servers", async () => {
    const client = createClient(Rng, pool);
    const seen: bigint[] = [];
    while (!pool.stats().endpoints.every((e) => e.state === "READY"))
      await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 90; i++) seen.push((await client.rng({})).RN);
    assert.deepEqual(countBy(seen), new Map(servers.map((s) => [s.rn, 30])));
  });

  it("passes a grpc-js server's UNIMPLEMENTED through as a ConnectError", async () => {
    const { RngService } = await import("@rngbalance/proto");
    await assert.rejects(
      createClient(RngService, pool).generate({}),
      (e) => ConnectError.from(e).code === Code.Unimplemented,
    );
  });
});

describe("TLS and :authority", () => {
  const fixture = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url));
  let server: http2.Http2SecureServer;
  let port: number;
  const seen: { authority: string | undefined; servername: string | undefined; clientCert: boolean }[] = [];

  before(async () => {
    server = http2.createSecureServer(
      {
        key: fixture("server.key"),
        cert: fixture("server.crt"),
        ca: fixture("ca.crt"),
        requestCert: true,
        rejectUnauthorized: false,
      },
      connectNodeAdapter({
        routes: (router) => router.service(Rng, { rng: () => ({ RN: 42n }) }),
      }),
    );
    server.on("stream", (stream, headers) => {
      const socket = stream.session?.socket as unknown as {
        servername?: string;
        getPeerCertificate(): object;
      };
      seen.push({
        authority: headers[":authority"],
        servername: socket?.servername,
        clientCert: Object.keys(socket?.getPeerCertificate() ?? {}).length > 0,
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.2", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("dials the pod IP but sends :authority and SNI for the service name, verifying its certificate", async () => {
    const pool = createPoolTransport({
      target: `ipv4:127.0.0.2:${port}`,
      authority: `rng.test:${port}`,
      tls: { ca: fixture("ca.crt"), cert: fixture("client.crt"), key: fixture("client.key") },
    });
    try {
      assert.equal((await createClient(Rng, pool).rng({})).RN, 42n);
      assert.deepEqual(seen.at(-1), {
        authority: `rng.test:${port}`,
        servername: "rng.test",
        clientCert: true,
      });
    } finally {
      await pool.close();
    }
  });

  it("fails with UNAVAILABLE naming the certificate problem when the name does not match", async () => {
    const pool = createPoolTransport({
      target: `ipv4:127.0.0.2:${port}`,
      authority: `wrong.test:${port}`,
      tls: { ca: fixture("ca.crt") },
    });
    try {
      await assert.rejects(createClient(Rng, pool).rng({}), (e) => {
        const err = ConnectError.from(e);
        return err.code === Code.Unavailable && /wrong\.test/.test(err.rawMessage);
      });
    } finally {
      await pool.close();
    }
  });
});
