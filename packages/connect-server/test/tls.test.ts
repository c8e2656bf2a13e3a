import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import * as tls from "node:tls";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { Rng } from "@rngbalance/proto";
import { createTestCertificates, type TestCertificates } from "@rngbalance/testkit";
import {
  type ConnectServer,
  type ConnectServerOptions,
  createJsonLogger,
  FAST_PATH_CHANNEL,
  type FastPathDecision,
  peerCertificateKey,
  startConnectServer,
} from "../src/index.js";

const quiet = createJsonLogger({ write: () => {} });

let certs: TestCertificates;
before(() => {
  certs = createTestCertificates();
});
after(() => certs.dispose());

/** What the Rng handler saw: the client certificate's CN per call ("-" for none). */
function startTlsServer(
  seen: string[],
  options: Partial<ConnectServerOptions> = {},
  delayMs = 0,
): Promise<ConnectServer> {
  return startConnectServer({
    host: "127.0.0.1",
    port: 0,
    logger: quiet,
    drainTimeoutMs: 2000,
    services: [Rng],
    routes: (router) =>
      router.service(Rng, {
        async rng(_req, context) {
          seen.push(String(context.values.get(peerCertificateKey)?.subject.CN ?? "-"));
          if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
          return { RN: 7n };
        },
      }),
    ...options,
    tls: { key: certs.server.key, cert: certs.server.cert, ...options.tls },
  });
}

/** The transports of every protocol, over HTTP/2 and HTTP/1.1 (gRPC is HTTP/2 only). */
function transports(port: number, client: { key?: Buffer; cert?: Buffer } = {}): Record<string, Transport> {
  const baseUrl = `https://127.0.0.1:${port}`;
  const nodeOptions = { ca: certs.ca.cert, ...client };
  return {
    "gRPC/h2": createGrpcTransport({ baseUrl, nodeOptions }),
    "gRPC-Web/h2": createGrpcWebTransport({ baseUrl, httpVersion: "2", nodeOptions }),
    "gRPC-Web/1.1": createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
    "Connect/h2": createConnectTransport({ baseUrl, httpVersion: "2", nodeOptions }),
    "Connect/1.1": createConnectTransport({ baseUrl, httpVersion: "1.1", nodeOptions }),
  };
}

/** An HTTP/2 TLS session to the server, with whatever client certificate is given. */
async function h2Session(
  port: number,
  client: tls.ConnectionOptions = {},
): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: certs.ca.cert, ...client });
  session.on("error", () => {});
  await once(session, "connect");
  return session;
}

/** A raw unary gRPC Rng call on `session`; resolves with the grpc-status trailer. */
function rawRng(session: http2.ClientHttp2Session): Promise<string | undefined> {
  const stream = session.request({
    ":method": "POST",
    ":path": "/rng.Rng/Rng",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.end(Buffer.alloc(5));
  stream.resume();
  return new Promise((resolve, reject) => {
    stream.on("trailers", (trailers) => resolve(trailers["grpc-status"] as string | undefined));
    stream.on("error", reject);
    stream.on("close", () => resolve(undefined));
  });
}

describe("startConnectServer with tls", () => {
  it("serves gRPC, gRPC-Web and Connect over TLS on HTTP/2 and HTTP/1.1 (ALPN), unary gRPC and Connect on the fast path", async () => {
    const seen: string[] = [];
    const server = await startTlsServer(seen);
    const decisions: FastPathDecision[] = [];
    const onDecision = (d: unknown) => decisions.push(d as FastPathDecision);
    subscribe(FAST_PATH_CHANNEL, onDecision);
    try {
      for (const [name, transport] of Object.entries(transports(server.address.port))) {
        assert.equal((await createClient(Rng, transport).rng({})).RN, 7n, name);
      }
      // The gRPC and Connect calls went fast (Connect on HTTP/2 and HTTP/1.1); gRPC-Web was served by connect-node.
      assert.deepEqual(decisions, [
        { path: "/rng.Rng/Rng", served: "fast" },
        { path: "/rng.Rng/Rng", served: "fallback" },
        { path: "/rng.Rng/Rng", served: "fallback", httpVersion: "1.1" },
        { path: "/rng.Rng/Rng", served: "fast", protocol: "connect" },
        { path: "/rng.Rng/Rng", served: "fast", protocol: "connect", httpVersion: "1.1" },
      ]);
      assert.deepEqual(seen, ["-", "-", "-", "-", "-"], "no client certificate without clientAuth");
      // Cleartext is not served on a TLS port.
      await assert.rejects(
        createClient(Rng, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.address.port}` })).rng(
          {},
        ),
        (e) => e instanceof ConnectError,
      );
    } finally {
      unsubscribe(FAST_PATH_CHANNEL, onDecision);
      await server.drain();
    }
  });

  it("drains over TLS: GOAWAY, the call in flight finishes, new connections are refused", async () => {
    const server = await startTlsServer([], {}, 300);
    const session = await h2Session(server.address.port);
    try {
      const call = rawRng(session);
      // The call is in its handler (300 ms) when the drain starts.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const goaway = once(session, "goaway");
      const drained = server.drain();
      await goaway;
      assert.equal(await call, "0", "the call in flight finished OK");
      await drained;
      await assert.rejects(h2Session(server.address.port), /ECONNREFUSED/);
    } finally {
      session.destroy();
      await server.drain();
    }
  });

  it("applies the connection cap to TLS connections: an idle one makes room, a busy one refuses", async () => {
    const server = await startTlsServer([], { maxConnections: 1 }, 400);
    const sessions: http2.ClientHttp2Session[] = [];
    try {
      const idle = await h2Session(server.address.port);
      sessions.push(idle);
      assert.equal(await rawRng(idle), "0");
      const idleClosed = once(idle, "close");
      const busy = await h2Session(server.address.port);
      sessions.push(busy);
      await idleClosed;
      const call = rawRng(busy);
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The only connection has a call open: a newcomer is refused before its handshake.
      await assert.rejects(h2Session(server.address.port), /ECONNRESET|socket hang up|disconnected/);
      assert.equal(await call, "0");
    } finally {
      for (const s of sessions) s.destroy();
      await server.drain();
    }
  });

  it("closes a connection whose TLS handshake stalls after detectTimeoutMs, and a drain does not wait for one", async () => {
    const server = await startTlsServer([], { detectTimeoutMs: 300 });
    try {
      const silent = net.connect({ host: "127.0.0.1", port: server.address.port });
      await once(silent, "connect");
      silent.resume();
      // Half a ClientHello: a record header promising more bytes than ever come.
      silent.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      const started = Date.now();
      await once(silent, "close");
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2000, `closed after ${took} ms`);

      const stalled = net.connect({ host: "127.0.0.1", port: server.address.port });
      stalled.on("error", () => {});
      await once(stalled, "connect");
      const closed = once(stalled, "close");
      const drainStarted = Date.now();
      await server.drain();
      assert.ok(Date.now() - drainStarted < 250, "a handshaking socket does not hold the drain up");
      await closed;
    } finally {
      await server.drain();
    }
  });

  it(`mTLS "require": no certificate fails the handshake, a stranger's is cut before any call; a valid one reaches the handler`, async () => {
    const seen: string[] = [];
    const server = await startTlsServer(seen, {
      tls: { ca: certs.ca.cert, clientAuth: "require" },
    });
    const port = server.address.port;
    try {
      // Without a certificate the handshake fails (TLS 1.3's "certificate required" alert).
      for (const [name, transport] of Object.entries(transports(port))) {
        await assert.rejects(
          createClient(Rng, transport).rng({}),
          (e) => e instanceof ConnectError && /certificate required/.test(e.message),
          `${name} without a certificate`,
        );
      }
      // A certificate from another CA: in TLS 1.3 the client's handshake is
      // done before the server checks it, so the client sees the connection
      // cut (how depends on the protocol); the call never reaches a handler.
      for (const [name, transport] of Object.entries(
        transports(port, { key: certs.stranger.key, cert: certs.stranger.cert }),
      )) {
        await assert.rejects(
          createClient(Rng, transport).rng({}),
          (e) =>
            e instanceof ConnectError && [Code.Canceled, Code.Aborted, Code.Unavailable].includes(e.code),
          `${name} with an untrusted certificate`,
        );
      }
      assert.deepEqual(seen, [], "no call reached the handler");
      for (const [name, transport] of Object.entries(
        transports(port, { key: certs.client.key, cert: certs.client.cert }),
      )) {
        assert.equal((await createClient(Rng, transport).rng({})).RN, 7n, name);
      }
      // Fast path (gRPC/h2) and connect-node, HTTP/2 and HTTP/1.1 alike.
      assert.deepEqual(seen, Array(5).fill("test-client"));
    } finally {
      await server.drain();
    }
  });

  it('mTLS "request": clients without a certificate connect; handlers see only verified ones', async () => {
    const seen: string[] = [];
    const server = await startTlsServer(seen, { tls: { ca: certs.ca.cert, clientAuth: "request" } });
    const port = server.address.port;
    try {
      for (const client of [{}, { key: certs.stranger.key, cert: certs.stranger.cert }, certs.client]) {
        const { "gRPC/h2": grpc, "Connect/1.1": connect } = transports(port, client);
        assert.equal((await createClient(Rng, grpc as Transport).rng({})).RN, 7n);
        assert.equal((await createClient(Rng, connect as Transport).rng({})).RN, 7n);
      }
      assert.deepEqual(seen, ["-", "-", "-", "-", "test-client", "test-client"]);
    } finally {
      await server.drain();
    }
  });

  it("setSecureContext swaps the certificate for new handshakes without a restart", async () => {
    const server = await startTlsServer([]);
    const peerCn = async () => {
      const socket = tls.connect({ host: "127.0.0.1", port: server.address.port, rejectUnauthorized: false });
      try {
        await once(socket, "secureConnect");
        return socket.getPeerCertificate().subject.CN;
      } finally {
        socket.destroy();
      }
    };
    try {
      assert.equal(await peerCn(), "localhost");
      server.setSecureContext({ key: certs.stranger.key, cert: certs.stranger.cert });
      assert.equal(await peerCn(), "stranger");
      assert.throws(() => server.setSecureContext({ key: certs.client.key, cert: certs.server.cert }));
    } finally {
      await server.drain();
    }
  });

  it("refuses bad TLS options at start with a message that says what to fix", async () => {
    await assert.rejects(
      startTlsServer([], { tls: { clientAuth: "always" as "require" } }),
      /tls\.clientAuth must be "none", "request" or "require", not "always"/,
    );
    await assert.rejects(
      startTlsServer([], { tls: { key: certs.client.key } }),
      /tls: the key, cert and ca do not make a TLS context: .*key values mismatch/,
    );
    await assert.rejects(
      startConnectServer({ port: 0, logger: quiet, services: [], routes: () => {}, tls: {} }),
      /tls needs the server's key and cert \(or pfx\)/,
    );
  });
});
