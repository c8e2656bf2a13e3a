/**
 * The pool as the client of TLS servers: two rng-server processes (on
 * @rngbalance/connect-server) serving mutual TLS on 127.0.0.2 and
 * 127.0.0.3, with certificates made for the test; a drain over TLS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createPoolTransport, type PoolTransportOptions } from "@rngbalance/dns-pool";
import { Rng } from "@rngbalance/proto";
import { type RngServerProcess, spawnRngServer } from "@rngbalance/rng-fleet";
import { createTestCertificates, type TestCertificates } from "@rngbalance/testkit";
import { countBy, freePort, until } from "./support.js";

describe("pool over connect-server with mutual TLS", () => {
  let certs: TestCertificates;
  let port: number;
  let servers: RngServerProcess[] = [];

  before(async () => {
    certs = createTestCertificates();
    port = await freePort();
    const pem = (name: string) => join(certs.dir, name);
    servers = await Promise.all(
      ["127.0.0.2", "127.0.0.3"].map((host) =>
        spawnRngServer({
          host,
          port,
          // Calls last long enough to be in flight when a drain starts.
          args: ["--fault", "latency:200ms", "--drain-timeout-ms", "5000"],
          env: {
            RNG_TLS_CERT: pem("server.pem"),
            RNG_TLS_KEY: pem("server-key.pem"),
            RNG_TLS_CA: pem("ca.pem"),
            RNG_TLS_CLIENT_AUTH: "require",
          },
        }),
      ),
    );
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    certs.dispose();
  });

  /** A pool over both servers; `tls` defaults to the CA and the client certificate. */
  const pool = (tls: PoolTransportOptions["tls"] = { ca: certs.ca.cert, ...certs.client }) =>
    createPoolTransport({
      target: `ipv4:127.0.0.2:${port},127.0.0.3:${port}`,
      // The servers' certificate names localhost (and the pod IPs).
      authority: `localhost:${port}`,
      tls,
      connect: "eager",
    });

  it("balances calls round robin across both, with a client certificate", async () => {
    const p = pool();
    try {
      await until(
        () => p.stats().endpoints.filter((e) => e.state === "READY").length === 2,
        5000,
        "both READY",
      );
      const client = createClient(Rng, p);
      const seen = await Promise.all(Array.from({ length: 20 }, async () => (await client.rng({})).RN));
      assert.deepEqual(countBy(seen), new Map(servers.map((s) => [s.rn, 10])));
    } finally {
      await p.close();
    }
  });

  // The server's "certificate required" alert comes after the client's TLS
  // 1.3 handshake is done, and the pool keeps both endpoints CONNECTING
  // rather than TRANSIENT_FAILURE (so the call waits out its deadline
  // instead of failing fast with UNAVAILABLE): a gap of the pool's.
  it("gets no endpoint READY without a client certificate: the call fails at its deadline", async () => {
    const p = pool({ ca: certs.ca.cert });
    try {
      await assert.rejects(
        createClient(Rng, p).rng({}, { timeoutMs: 1000 }),
        (e) =>
          ConnectError.from(e).code === Code.DeadlineExceeded &&
          /no ready endpoint/.test(ConnectError.from(e).message),
      );
      assert.ok(p.stats().endpoints.every((e) => e.state !== "READY"));
    } finally {
      await p.close();
    }
  });

  it("a server draining over TLS finishes its calls in flight; later calls go to the other", async () => {
    const p = pool();
    try {
      await until(
        () => p.stats().endpoints.filter((e) => e.state === "READY").length === 2,
        5000,
        "both READY",
      );
      const client = createClient(Rng, p);
      const [draining, staying] = servers as [RngServerProcess, RngServerProcess];
      const inFlight = Array.from({ length: 10 }, async () => (await client.rng({})).RN);
      await new Promise((resolve) => setTimeout(resolve, 50));
      // SIGTERM: the server drains (GOAWAY, calls finish) and exits 0.
      const stopped = draining.stop();
      assert.deepEqual(
        countBy(await Promise.all(inFlight)),
        new Map([
          [draining.rn, 5],
          [staying.rn, 5],
        ]),
        "every call in flight finished, on the server it was sent to",
      );
      assert.deepEqual(await stopped, { code: 0, signal: null });
      const later = await Promise.all(Array.from({ length: 6 }, async () => (await client.rng({})).RN));
      assert.deepEqual(countBy(later), new Map([[staying.rn, 6]]));
    } finally {
      await p.close();
    }
  });
});
