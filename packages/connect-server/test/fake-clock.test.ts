// The server's timing logic on fake time: the HTTP/2 connection policy
// (idle timeout, keepalive, ping enforcement, request-idle timeout, max age,
// the rapid-reset burst, the hard destroy after a cut), protocol detection
// and the drain. Sockets and HTTP/2 sessions are real, on loopback; only the
// clock the server reads is fake, so each deadline is checked to the
// millisecond without waiting for it.
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import { describe, it } from "node:test";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus as ServingStatus } from "@rngbalance/grpc-protos";
import { Rng } from "@rngbalance/proto";
import { HTTP2_HELLO, until } from "@rngbalance/testkit";
import {
  ConnectionTable,
  type ConnectServer,
  createJsonLogger,
  type Http2ConnectionPolicy,
  Http2Sessions,
  startConnectServer,
} from "../src/index.js";
import { FakeClock, flushIo } from "../src/testing/index.js";

interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

function recordingLogger() {
  const lines: LogLine[] = [];
  const logger = createJsonLogger({ minLevel: "debug", write: (line) => lines.push(JSON.parse(line)) });
  return { lines, logger, has: (msg: string) => lines.some((l) => l.msg === msg) };
}

/** Every timer of the policy off: each test turns on the one it checks. */
const OFF: Http2ConnectionPolicy = {
  idleTimeoutMs: 0,
  maxConnectionAgeMs: 0,
  maxConnectionAgeGraceMs: 0,
  keepaliveTimeMs: 0,
  keepaliveTimeoutMs: 0,
  keepaliveMinTimeMs: 300_000,
  keepalivePermitWithoutCalls: false,
  requestIdleTimeoutMs: 0,
};

/**
 * A real h2c server on loopback whose sessions are tracked by
 * {@link Http2Sessions} on a fake clock, with a connection table (which
 * the cut's hard destroy reaches the real socket through). Streams are
 * never answered unless `onStream` does.
 */
async function policyServer(
  policy: Partial<Http2ConnectionPolicy>,
  onStream: (stream: http2.ServerHttp2Stream) => void = () => {},
) {
  const clock = new FakeClock();
  const log = recordingLogger();
  const table = new ConnectionTable(
    { maxConnections: 0, maxConnectionsPerClient: 0, maxConnectionBufferBytes: 0, maxBufferBytes: 0 },
    log.logger,
    clock,
  );
  const sessions = new Http2Sessions({ ...OFF, ...policy }, log.logger, { table, clock });
  const server = http2.createServer();
  const serverSockets: net.Socket[] = [];
  server.on("stream", onStream);
  sessions.attach(server);
  // Prepended after attach(), so it runs first: the session finds its record.
  server.prependListener("connection", (socket: net.Socket) => {
    serverSockets.push(socket);
    table.admit(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as net.AddressInfo;
  const clients: (http2.ClientHttp2Session | net.Socket)[] = [];
  return {
    clock,
    log,
    table,
    sessions,
    serverSockets,
    url: `http://127.0.0.1:${port}`,
    /** A well-behaved HTTP/2 client, connected (SETTINGS exchanged) and tracked by the server. */
    async connect(): Promise<http2.ClientHttp2Session> {
      const client = http2.connect(`http://127.0.0.1:${port}`);
      client.on("error", () => {});
      clients.push(client);
      await once(client, "connect");
      await until(() => sessions.size === clients.length, 2000, "session tracked");
      return client;
    },
    /** A raw client that sends the HTTP/2 preface and SETTINGS, then reads nothing and answers nothing. */
    async connectMute(): Promise<net.Socket> {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.on("error", () => {});
      clients.push(socket);
      await once(socket, "connect");
      socket.pause();
      socket.write(HTTP2_HELLO);
      await until(() => sessions.size === clients.length, 2000, "session tracked");
      return socket;
    },
    async close(): Promise<void> {
      for (const c of clients) c.destroy();
      for (const s of serverSockets) s.destroy();
      sessions.stop();
      table.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("HTTP/2 connection policy on a fake clock", () => {
  it("idle timeout: GOAWAY exactly when the connection has had no call for idleTimeoutMs", async () => {
    const s = await policyServer({ idleTimeoutMs: 10_000 });
    try {
      const client = await s.connect();
      let goaway = false;
      client.on("goaway", () => {
        goaway = true;
      });
      await s.clock.advanceAsync(9_999);
      await flushIo(10);
      assert.equal(goaway, false, "not idle long enough yet");
      await s.clock.advanceAsync(1_000); // the next sweep
      await until(() => goaway, 2000, "GOAWAY");
      assert.ok(s.log.has("http2 connection idle: GOAWAY"));
    } finally {
      await s.close();
    }
  });

  it("keepalive: PINGs after keepaliveTimeMs; an answered PING keeps the connection", async () => {
    const s = await policyServer({ keepaliveTimeMs: 1_000, keepaliveTimeoutMs: 500 });
    try {
      const client = await s.connect();
      let pings = 0;
      client.on("ping", () => pings++);
      await s.clock.advanceAsync(999);
      await flushIo(10);
      assert.equal(pings, 0);
      await s.clock.advanceAsync(1);
      await until(() => pings === 1, 2000, "first keepalive PING");
      // Answered (Node's client acks it), so no cut: the next PING a period later.
      await s.clock.advanceAsync(1_000);
      await until(() => pings === 2, 2000, "second keepalive PING");
      assert.equal(s.sessions.size, 1);
      assert.ok(!s.log.has("http2 connection destroyed: ping not answered"));
    } finally {
      await s.close();
    }
  });

  it("an unanswered PING cuts the connection after keepaliveTimeoutMs; the socket of a peer that reads nothing goes 1 s later", async () => {
    const s = await policyServer({ keepaliveTimeMs: 1_000, keepaliveTimeoutMs: 500 });
    try {
      await s.connectMute();
      await s.clock.advanceAsync(1_000); // PING sent
      await s.clock.advanceAsync(500); // not yet: the timeout is "more than 500 ms"
      await flushIo(10);
      assert.ok(!s.log.has("http2 connection destroyed: ping not answered"));
      await s.clock.advanceAsync(50); // the next sweep
      assert.ok(s.log.has("http2 connection destroyed: ping not answered"));
      // The session's graceful end never completes: the peer reads nothing.
      await s.clock.advanceAsync(999);
      await flushIo(10);
      assert.equal(s.serverSockets[0]?.destroyed, false, "still open 999 ms after the cut");
      assert.equal(s.table.size, 1);
      await s.clock.advanceAsync(1);
      assert.equal(s.serverSockets[0]?.destroyed, true, "destroyed 1 s after the cut");
      await until(() => s.table.size === 0 && s.sessions.size === 0, 2000, "connection forgotten");
    } finally {
      await s.close();
    }
  });

  it("ping enforcement: pings faster than keepaliveMinTimeMs earn strikes and GOAWAY too_many_pings; spaced ones do not", async () => {
    const s = await policyServer({ keepaliveMinTimeMs: 1_000, keepalivePermitWithoutCalls: true });
    try {
      const spaced = await s.connect();
      let spacedGoaway = false;
      spaced.on("goaway", () => {
        spacedGoaway = true;
      });
      for (let i = 0; i < 6; i++) {
        await s.clock.advanceAsync(1_000);
        await new Promise<void>((resolve, reject) => spaced.ping((err) => (err ? reject(err) : resolve())));
      }
      await flushIo(10);
      assert.equal(spacedGoaway, false, "one ping per keepaliveMinTimeMs is fine");

      const eager = await s.connect();
      let code: number | undefined;
      let data = "";
      eager.on("goaway", (errorCode: number, _last: number, opaque?: Buffer) => {
        code = errorCode;
        data = opaque?.toString() ?? "";
      });
      let pings = 0;
      // Time stands still: every ping comes too soon. The first one or two
      // are excused by the SETTINGS frames the server writes as the
      // connection opens (data sent since the last ping clears strikes).
      while (code === undefined && pings < 10) {
        pings++;
        await new Promise<void>((resolve) => eager.ping(() => resolve()));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      assert.equal(data, "too_many_pings");
      assert.ok(
        pings >= 4 && pings <= 5,
        `GOAWAY after ${pings} pings: three strikes, after one or two excused`,
      );
      // The connection goes 100 ms (fake) after the GOAWAY, time for the frame to leave.
      await s.clock.advanceAsync(99);
      await flushIo(10);
      assert.equal(s.sessions.size, 2, "the GOAWAY'd connection is still open");
      await s.clock.advanceAsync(1);
      await until(() => s.sessions.size === 1, 2000, "connection closed 100 ms after GOAWAY");
      assert.ok(s.log.has("http2 connection closed: too many pings"));
    } finally {
      await s.close();
    }
  });

  it("request-idle timeout: a unary gRPC body that stalls more than requestIdleTimeoutMs ends with DEADLINE_EXCEEDED", async () => {
    let serverStream: http2.ServerHttp2Stream | undefined;
    const s = await policyServer({ requestIdleTimeoutMs: 1_000 }, (stream) => {
      serverStream = stream;
    });
    try {
      const client = await s.connect();
      const req = client.request({
        ":method": "POST",
        ":path": "/rng.Rng/Rng",
        "content-type": "application/grpc",
        te: "trailers",
      });
      req.on("error", () => {});
      let status: string | undefined;
      req.on("response", (headers) => {
        status = String(headers["grpc-status"]);
      });
      req.write(Buffer.from([0, 0, 0, 0, 10, 1, 2])); // 2 of the message's 10 bytes
      await until(() => (serverStream?.readableLength ?? 0) > 0, 2000, "request bytes at the server");
      await s.clock.advanceAsync(1_000); // exactly the timeout: not more
      await flushIo(10);
      assert.equal(status, undefined);
      await s.clock.advanceAsync(100); // the next sweep
      await until(() => status !== undefined, 2000, "trailers-only status");
      assert.equal(status, String(Code.DeadlineExceeded));
      assert.ok(s.log.has("http2 stream ended: its request stalled"));
    } finally {
      await s.close();
    }
  });

  it("max connection age: GOAWAY at maxConnectionAgeMs (jitter pinned), then the cut after maxConnectionAgeGraceMs", async (t) => {
    t.mock.method(Math, "random", () => 0.5); // ±10 % jitter → exactly 1.0
    const s = await policyServer({ maxConnectionAgeMs: 10_000, maxConnectionAgeGraceMs: 1_000 });
    try {
      const client = await s.connect();
      let goaway = false;
      client.on("goaway", () => {
        goaway = true;
      });
      // A call that never ends keeps the connection open past the GOAWAY.
      const req = client.request({ ":method": "POST", ":path": "/slow" });
      req.on("error", () => {});
      await until(() => s.sessions.openStreams === 1, 2000, "call open");
      await s.clock.advanceAsync(9_999);
      await flushIo(10);
      assert.equal(goaway, false);
      await s.clock.advanceAsync(1);
      await until(() => goaway, 2000, "GOAWAY at max age");
      await s.clock.advanceAsync(999);
      await flushIo(10);
      assert.equal(s.sessions.size, 1, "the call's grace is not over");
      await s.clock.advanceAsync(1);
      await until(() => s.sessions.size === 0, 2000, "connection cut after the grace");
    } finally {
      await s.close();
    }
  });

  it("rapid reset: the burst of 1000 client resets is allowed at one instant, the 1001st cuts the connection", async () => {
    const s = await policyServer({});
    try {
      const client = await s.connect();
      let reset = 0;
      const resetOne = async () => {
        const req = client.request({ ":method": "POST", ":path": "/x" });
        req.on("error", () => {});
        req.close(http2.constants.NGHTTP2_CANCEL);
        await once(req, "close");
        reset++;
      };
      for (let i = 0; i < 1_000; i++) await resetOne();
      await until(() => s.sessions.openStreams === 0, 2000, "resets seen by the server");
      await flushIo(10);
      assert.ok(!s.log.has("http2 connection destroyed: rapid reset (too many streams reset by the client)"));
      assert.equal(reset, 1_000);
      await resetOne();
      await until(
        () => s.log.has("http2 connection destroyed: rapid reset (too many streams reset by the client)"),
        2000,
        "cut at the 1001st reset",
      );
    } finally {
      await s.close();
    }
  });
});

/**
 * A server on a fake clock whose Rng handler answers at once, or, for a
 * call with an `x-hold` header, waits for its signal (forever when `ignoreSignal`).
 */
async function slowServer(clock: FakeClock, settings: { shutdownDelayMs?: number; ignoreSignal?: boolean }) {
  const log = recordingLogger();
  let waiting = 0;
  const server = await startConnectServer({
    host: "127.0.0.1",
    port: 0,
    logger: log.logger,
    clock,
    drainTimeoutMs: 10_000,
    shutdownDelayMs: settings.shutdownDelayMs ?? 0,
    services: [Rng],
    routes: (router) =>
      router.service(Rng, {
        async rng(_req, context) {
          if (!context.requestHeader.has("x-hold")) return { RN: 1n };
          waiting++;
          await new Promise((resolve) => {
            if (!settings.ignoreSignal) context.signal.addEventListener("abort", resolve);
          });
          throw context.signal.reason;
        },
      }),
  });
  const client = createClient(
    Rng,
    createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.address.port}` }),
  );
  return { server, client, log, waiting: () => waiting };
}

/** Moves fake time in `stepMs` steps until `promise` settles (at most `maxMs`); returns the fake time it took. */
async function advanceUntil(clock: FakeClock, promise: Promise<unknown>, stepMs: number, maxMs: number) {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  const started = clock.now();
  while (!settled && clock.now() - started < maxMs) await clock.advanceAsync(stepMs);
  assert.ok(settled, `not settled within ${maxMs} ms of fake time`);
  return clock.now() - started;
}

describe("startConnectServer on a fake clock", () => {
  it("drain: in-flight calls run until drainTimeoutMs, then end with UNAVAILABLE and the connection is cut", async () => {
    const clock = new FakeClock();
    const { server, client, log, waiting } = await slowServer(clock, {});
    let drained: Promise<void> | undefined;
    try {
      const call = client.rng({}, { headers: { "x-hold": "1" } });
      call.catch(() => {});
      await until(() => waiting() === 1, 2000, "call in its handler");
      drained = server.drain();
      assert.equal(server.health.getStatus(""), ServingStatus.NOT_SERVING);
      await clock.advanceAsync(9_990);
      await flushIo(10);
      assert.ok(!log.has("drained"), "calls still have time");
      const took = await advanceUntil(clock, drained, 10, 1_000);
      assert.ok(took <= 300, `drained ${took} ms after the deadline`);
      await assert.rejects(
        call,
        (e) => e instanceof ConnectError && e.code === Code.Unavailable && /shutting down/.test(e.message),
      );
      const line = log.lines.find((l) => l.msg === "drained");
      assert.equal(line?.connectionsCut, 1);
    } finally {
      if (drained === undefined) drained = server.drain();
      await advanceUntil(clock, drained, 100, 60_000);
    }
  });

  it("drain: a handler that ignores its signal is refused CUT_GRACE_MS (250) after the deadline", async () => {
    const clock = new FakeClock();
    const { server, client, log, waiting } = await slowServer(clock, { ignoreSignal: true });
    let drained: Promise<void> | undefined;
    try {
      const call = client.rng({}, { headers: { "x-hold": "1" } });
      call.catch(() => {});
      await until(() => waiting() === 1, 2000, "call in its handler");
      drained = server.drain();
      await clock.advanceAsync(10_000 + 240);
      await flushIo(10);
      assert.ok(!log.has("drained"), "handlers still have their grace");
      await advanceUntil(clock, drained, 10, 1_000);
      await assert.rejects(call, (e) => e instanceof ConnectError && e.code === Code.Unavailable);
      assert.equal(log.lines.find((l) => l.msg === "drained")?.connectionsCut, 1);
    } finally {
      if (drained === undefined) drained = server.drain();
      await advanceUntil(clock, drained, 100, 60_000);
    }
  });

  it("drain: new calls are still served, NOT_SERVING, for shutdownDelayMs", async () => {
    const clock = new FakeClock();
    const { server, client, log } = await slowServer(clock, { shutdownDelayMs: 5_000 });
    let drained: Promise<void> | undefined;
    try {
      assert.equal((await client.rng({})).RN, 1n);
      drained = server.drain();
      await clock.advanceAsync(4_999);
      assert.equal(server.health.getStatus(""), ServingStatus.NOT_SERVING);
      assert.equal((await client.rng({})).RN, 1n, "still served during the delay");
      assert.ok(!log.has("drained"));
      const took = await advanceUntil(clock, drained, 10, 1_000);
      assert.ok(took <= 20, `drained ${took} ms after the delay, with no call open`);
      assert.equal(log.lines.find((l) => l.msg === "drained")?.connectionsCut, 0);
    } finally {
      if (drained === undefined) drained = server.drain();
      await advanceUntil(clock, drained, 100, 60_000);
    }
  });

  it("detect timeout: a connection that sends nothing is closed detectTimeoutMs after accept", async () => {
    const clock = new FakeClock();
    const log = recordingLogger();
    const server: ConnectServer = await startConnectServer({
      host: "127.0.0.1",
      port: 0,
      logger: log.logger,
      clock,
      detectTimeoutMs: 3_000,
      services: [Rng],
      routes: (router) => router.service(Rng, { rng: () => ({ RN: 1n }) }),
    });
    const timers = clock.pending;
    const silent = net.connect({ host: "127.0.0.1", port: server.address.port });
    silent.on("error", () => {});
    try {
      await once(silent, "connect");
      silent.resume();
      let closed = false;
      silent.once("close", () => {
        closed = true;
      });
      await until(() => clock.pending > timers, 2000, "accepted: its detect timer set");
      await clock.advanceAsync(2_999);
      await flushIo(10);
      assert.equal(closed, false);
      await clock.advanceAsync(1);
      await until(() => closed, 2000, "closed at the detect timeout");
      assert.ok(log.has("connection closed: protocol not detected in time"));
    } finally {
      silent.destroy();
      await advanceUntil(clock, server.drain(), 100, 60_000);
    }
  });
});
