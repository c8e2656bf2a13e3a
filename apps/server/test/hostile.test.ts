/**
 * Hostile clients (issue 20): request shapes that crashed the server or
 * made it hold unbounded memory. Each test runs a real rng-server process,
 * attacks it from raw sockets or Node's http2 client, and asserts last that
 * the process is alive and answers health checks; probes, sockets and the
 * server are stopped in `finally`.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { RngService } from "@rngbalance/proto";
import { spawnRngServer } from "@rngbalance/rng-fleet";
import {
  assertAlive,
  HTTP2_HELLO,
  healthProbe,
  rawSocket,
  requestThenResetBytes,
  rssMiB,
  sessionErrorThenRequestBytes,
  unfinishedUnaryCalls,
  unreadStreamingCalls,
} from "./attacks.js";
import { grpcFrame, spawnAppServer } from "./helpers.js";

/** Waits until `condition` holds, failing after `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`not true within ${timeoutMs} ms: ${condition}`);
    await sleep(20);
  }
}

const sleep = <T = undefined>(ms: number, value?: T) =>
  new Promise<T>((r) => setTimeout(() => r(value as T), ms));

describe("rng-server: requests reset before they are answered", () => {
  for (const contentType of ["application/grpc", "application/grpc-web+proto", "application/json"]) {
    it(`survives HEADERS + RST_STREAM for an unknown method (${contentType})`, async () => {
      const server = await spawnAppServer();
      try {
        for (let i = 0; i < 20; i++) {
          const { socket, closed } = await rawSocket(
            server,
            requestThenResetBytes("/no.Such/Method", contentType),
          );
          await Promise.race([closed, sleep(50)]);
          socket.destroy();
        }
        await assertAlive(server);
      } finally {
        await server.stop();
      }
    });
  }
});

describe("rng-server: a frame that ends the session, then a new stream in the same input", () => {
  // Node 22's http2 aborted on these (seeds 1735103426 and 1845222954): Node
  // destroyed the session while nghttp2 was still reading the packet.
  for (const breaker of ["goaway", "ping-ack"] as const) {
    for (const split of [false, true]) {
      const what = breaker === "goaway" ? "GOAWAY(PROTOCOL_ERROR)" : "an unsolicited PING ACK";
      it(`survives ${what}, HEADERS, DATA ${split ? "after the hello" : "in the first packet"}`, async () => {
        const server = await spawnAppServer();
        try {
          for (const path of ["/rng.Rng/Rng", "/no.Such/Method"]) {
            const attack = sessionErrorThenRequestBytes(breaker, path, "application/grpc");
            const { socket, closed } = await rawSocket(
              server,
              split ? HTTP2_HELLO : Buffer.concat([HTTP2_HELLO, attack]),
            );
            if (split) {
              await sleep(50);
              socket.write(attack);
            }
            const cut = await Promise.race([closed, sleep(2000, "open" as const)]);
            socket.destroy();
            assert.notEqual(cut, "open", "the server should close a connection that broke the protocol");
          }
          await assertAlive(server);
        } finally {
          await server.stop();
        }
      });
    }
  }
});

describe("rng-server: HTTP/1.1 clients that go away mid-request", () => {
  it("survives pipelined POSTs whose first is answered unread, then a reset (found by the fuzzer, seed 942)", async () => {
    const server = await spawnAppServer();
    try {
      const twoPosts =
        "POST /rng.Rng/Rng HTTP/1.1\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0" +
        "POST /rng.Rng/Rng?encoding=proto&message= HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 7\r\n\r\n\0\0\0\0\x02[]";
      for (let i = 0; i < 10; i++) {
        const { socket } = await rawSocket(server, twoPosts);
        await sleep(20);
        socket.destroy();
      }
      await sleep(100);
      await assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe("rng-server: HTTP/1.1 requests answered before their body is read", () => {
  it("does not leave the connection unread: it reads on or closes, and no socket outlives the client (fuzzer seed 1454317504)", async () => {
    const server = await spawnAppServer();
    try {
      const pid = server.child.pid as number;
      const fds = () => readdirSync(`/proc/${pid}/fd`).length;
      const before = fds();
      // A gRPC envelope whose length (0x5b5b5b5b) is over the limit: the
      // server answers before it has read the rest of the 66 KB body; then
      // a pipelined request. Connect 2.3 reads the rest and answers the
      // pipelined request too; before, the server closed after its answer.
      // Either is fine. What was wrong: the connection was never read
      // again, and its socket stayed in CLOSE_WAIT after the client left.
      const body = "[".repeat(66_000);
      const bytes =
        `POST /rng.Rng/Rng HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
      const { socket, closed } = await rawSocket(server, bytes);
      let answers = "";
      socket.on("data", (chunk: Buffer) => {
        answers += chunk.toString("latin1");
      });
      const bothAnswered = () => (answers.match(/HTTP\/1\.1 \d{3} /g) ?? []).length >= 2;
      const outcome = await Promise.race([
        closed.then(() => "closed" as const),
        (async () => {
          while (!bothAnswered()) await sleep(20);
          return "read on" as const;
        })(),
        sleep(3000, "stuck" as const),
      ]);
      socket.destroy();
      assert.notEqual(
        outcome,
        "stuck",
        `the server neither closed nor answered the pipelined request: ${answers}`,
      );
      assert.match(answers, /grpc-status: 8/, "the oversized message got RESOURCE_EXHAUSTED");
      await until(() => fds() <= before, 3000);
      await assertAlive(server);
    } finally {
      await server.stop();
    }
  });
});

describe("rng-server: peers that do not read their responses", () => {
  it("bounds what 4 × 250 window-0 GenerateStream calls hold, keeps answering, and drains on SIGTERM", async () => {
    const server = await spawnAppServer({ args: ["--drain-timeout-ms", "2000"] });
    const probe = healthProbe(server);
    const sessions: http2.ClientHttp2Session[] = [];
    try {
      const before = rssMiB(server.child.pid as number);
      // 4 connections with a window of 0: the server may not send a byte of DATA.
      for (let c = 0; c < 4; c++) sessions.push(unreadStreamingCalls(server, 250));
      let peak = 0;
      for (let i = 0; i < 8; i++) {
        await sleep(500);
        peak = Math.max(peak, rssMiB(server.child.pid as number));
      }
      // Before the bound, the same load held ~500 MB and kept growing.
      assert.ok(peak - before < 200, `RSS grew by ${(peak - before).toFixed(0)} MiB`);
      await assertAlive(server);
      const { ok, failed } = await probe.stop();
      // Known gap: while 1,000 calls start at once, a few 1-s health checks
      // time out (CPU, not memory); they answer again once the streams block.
      assert.ok(ok > 3 && failed <= 4, `health checks: ${ok} ok, ${failed} failed`);
      const started = Date.now();
      server.child.kill("SIGTERM");
      assert.deepEqual(await server.exited, { code: 0, signal: null });
      assert.ok(Date.now() - started < 3000, `exited ${Date.now() - started} ms after SIGTERM`);
    } finally {
      for (const s of sessions) s.destroy();
      await probe.stop();
      await server.stop();
    }
  });

  it("cuts a connection past --max-connection-buffer-bytes, with a log line saying why", async () => {
    const server = await spawnAppServer({ args: ["--max-connection-buffer-bytes", "1000000"] });
    // 250 streams, each holding up to 16 queued writes (~17 KB charged).
    const session = unreadStreamingCalls(server, 250);
    try {
      await Promise.race([once(session, "close"), sleep(10_000)]);
      assert.ok(session.destroyed || session.closed, "the connection was cut");
      const line = server.logs.find((l) => String(l.msg).includes("--max-connection-buffer-bytes"));
      assert.ok(line, "a log line names the limit");
      assert.ok(Number(line.responseBytes) > 1_000_000);
      await assertAlive(server);
    } finally {
      session.destroy();
      await server.stop();
    }
  });
});

describe("rng-server: incomplete requests", () => {
  it("cuts a connection whose unfinished unary bodies pass --max-connection-buffer-bytes", async () => {
    const server = await spawnAppServer({ args: ["--max-connection-buffer-bytes", "16000000"] });
    const probe = healthProbe(server);
    const before = rssMiB(server.child.pid as number);
    // 100 unary calls, each sending 1 MiB of a 4 MiB message and never ending.
    const session = unfinishedUnaryCalls(server, 100, 1024 * 1024);
    try {
      await Promise.race([once(session, "close"), sleep(10_000)]);
      assert.ok(session.destroyed || session.closed, "the connection was cut");
      const line = server.logs.find((l) => String(l.msg).includes("--max-connection-buffer-bytes"));
      assert.ok(line, "a log line names the limit");
      assert.ok(Number(line.requestBytes) > 16_000_000);
      assert.ok(rssMiB(server.child.pid as number) - before < 120);
      await assertAlive(server);
      const { failed } = await probe.stop();
      assert.equal(failed, 0);
    } finally {
      session.destroy();
      await probe.stop();
      await server.stop();
    }
  });

  it("ends a stalled unary request with DEADLINE_EXCEEDED after --request-idle-timeout-ms", async () => {
    const server = await spawnAppServer({ args: ["--request-idle-timeout-ms", "300"] });
    const session = http2.connect(`http://${server.address}`);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/rng.v1.RngService/Generate",
        "content-type": "application/grpc",
        te: "trailers",
      });
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(100, 1);
      stream.write(Buffer.concat([prefix, Buffer.alloc(10)]));
      const started = Date.now();
      const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
      const tookMs = Date.now() - started;
      assert.equal(headers["grpc-status"], String(Code.DeadlineExceeded));
      assert.match(decodeURIComponent(String(headers["grpc-message"])), /--request-idle-timeout-ms/);
      assert.ok(tookMs >= 250 && tookMs < 2000, `ended after ${tookMs} ms`);
      // A stream idle between messages of a healthy call is not cut.
      const client = createClient(RngService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
      assert.ok((await client.generate({ delayMs: 600 })).rn >= 0n);
      await assertAlive(server);
    } finally {
      session.destroy();
      await server.stop();
    }
  });
});

describe("rng-server: compressed JSON", () => {
  /** 4 MiB of nesting, gzip-compressed to a few KiB. */
  const bomb = gzipSync(Buffer.from(`{"x":${"[".repeat(2 * 1024 * 1024)}${"]".repeat(2 * 1024 * 1024)}}`));
  const envelope = (payload: Buffer) => {
    const prefix = Buffer.alloc(5);
    prefix[0] = 1; // compressed
    prefix.writeUInt32BE(payload.length, 1);
    return Buffer.concat([prefix, payload]);
  };
  const cases: {
    name: string;
    headers: Record<string, string>;
    body: Buffer;
    rejected: RegExp;
    h2Only?: boolean;
  }[] = [
    {
      name: "Connect unary",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: bomb,
      rejected: /invalid_argument.*--json-max-depth|resource_exhausted.*--json-read-max-bytes/,
    },
    {
      name: "Connect streaming",
      headers: { "content-type": "application/connect+json", "connect-content-encoding": "gzip" },
      body: envelope(bomb),
      rejected: /invalid_argument|resource_exhausted/,
    },
    {
      name: "gRPC-Web+json",
      headers: { "content-type": "application/grpc-web+json", "grpc-encoding": "gzip" },
      body: envelope(bomb),
      rejected: /grpc-status: ?(3|8)/i,
    },
    {
      name: "gRPC+json",
      headers: { "content-type": "application/grpc+json", "grpc-encoding": "gzip", te: "trailers" },
      body: envelope(bomb),
      rejected: /grpc-status: ?(3|8)/i,
      h2Only: true,
    },
  ];
  it("refuses a gzip bomb of nested JSON on every protocol, over HTTP/1.1 and HTTP/2, before parsing it", async () => {
    const server = await spawnAppServer();
    const probe = healthProbe(server);
    try {
      for (const c of cases) {
        const path = c.name === "Connect streaming" ? "/rng.v1.RngService/GenerateStream" : "/rng.Rng/Rng";
        const started = Date.now();
        // HTTP/1.1 (gRPC itself needs HTTP/2).
        const h1 = c.h2Only
          ? undefined
          : await new Promise<string>((resolve, reject) => {
              const req = http.request(
                `http://${server.address}${path}`,
                { method: "POST", agent: false, headers: c.headers },
                (res) => {
                  let text = JSON.stringify(res.headers);
                  res.setEncoding("latin1").on("data", (d: string) => {
                    text += d;
                  });
                  res.on("end", () => resolve(text));
                },
              );
              req.on("error", reject);
              req.end(c.body);
            });
        if (h1 !== undefined) assert.match(h1, c.rejected, `${c.name} over HTTP/1.1: ${h1.slice(0, 300)}`);
        assert.ok(Date.now() - started < 1500, `${c.name} over HTTP/1.1 took ${Date.now() - started} ms`);
        // HTTP/2.
        const session = http2.connect(`http://${server.address}`);
        try {
          const stream = session.request({ ":method": "POST", ":path": path, ...c.headers });
          let text = "";
          stream.on("response", (h) => {
            text += JSON.stringify(h);
          });
          stream.on("trailers", (t) => {
            text += JSON.stringify(t).replace(/"grpc-status":"/, "grpc-status: ");
          });
          stream.setEncoding("latin1").on("data", (d: string) => {
            text += d;
          });
          stream.end(c.body);
          await once(stream, "close");
          text = text.replace(/"grpc-status":"/g, "grpc-status: ");
          assert.match(text, c.rejected, `${c.name} over HTTP/2: ${text.slice(0, 300)}`);
          assert.ok(Date.now() - started < 3000, `${c.name} took ${Date.now() - started} ms`);
        } finally {
          session.close();
        }
      }
      await assertAlive(server);
      const { ok, failed } = await probe.stop();
      assert.equal(failed, 0, `health checks: ${ok} ok, ${failed} failed`);
    } finally {
      await probe.stop();
      await server.stop();
    }
  });
});

describe("rng-server: connection caps", () => {
  it("at --max-connections, closes a hoarder's oldest idle connections so health checks get in", async () => {
    const server = await spawnAppServer({ args: ["--max-connections", "40"] });
    const hoard: http2.ClientHttp2Session[] = [];
    try {
      for (let i = 0; i < 60; i++) {
        const s = http2.connect(`http://${server.address}`);
        s.on("error", () => {});
        await Promise.race([once(s, "connect"), once(s, "close"), sleep(1000)]);
        hoard.push(s);
      }
      for (let i = 0; i < 5; i++) await assertAlive(server);
      await sleep(200);
      const open = hoard.filter((s) => !s.destroyed && !s.closed).length;
      assert.ok(open <= 40, `${open} hoarded connections still open`);
      // The cap's log line comes once a second at most, with counts.
      await until(() => server.logs.some((l) => String(l.msg).startsWith("at a connection cap")), 3000);
    } finally {
      for (const s of hoard) s.destroy();
      await server.stop();
    }
  });

  it("at --max-connections-per-client, a client's own oldest idle connection makes room", async () => {
    const server = await spawnAppServer({ args: ["--max-connections-per-client", "5"] });
    const sockets: Awaited<ReturnType<typeof rawSocket>>[] = [];
    try {
      for (let i = 0; i < 10; i++) sockets.push(await rawSocket(server));
      await sleep(200);
      const closed = await Promise.all(
        sockets.map((s) => Promise.race([s.closed.then(() => true), sleep(10, false)])),
      );
      assert.equal(closed.filter(Boolean).length, 5, "the 5 oldest were closed");
      assert.deepEqual(closed.slice(0, 5), [true, true, true, true, true]);
      await assertAlive(server);
    } finally {
      for (const s of sockets) s.socket.destroy();
      await server.stop();
    }
  });
});

describe("rng-server: odd but legal requests", () => {
  it("clamps a grpc-timeout beyond 2^31 ms instead of expiring at once, and warns of nothing", async () => {
    const server = await spawnAppServer();
    let stderr = "";
    server.child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const session = http2.connect(`http://${server.address}`);
    try {
      for (const path of ["/rng.Rng/Rng", "/rng.v1.RngService/Generate"]) {
        for (const contentType of ["application/grpc", "application/grpc+proto"]) {
          const stream = session.request({
            ":method": "POST",
            ":path": path,
            "content-type": contentType,
            te: "trailers",
            "grpc-timeout": "99999999H",
          });
          let status: string | undefined;
          stream.on("trailers", (t) => {
            status = String(t["grpc-status"]);
          });
          stream.on("response", (h) => {
            status ??= h["grpc-status"] === undefined ? undefined : String(h["grpc-status"]);
          });
          stream.resume();
          stream.end(grpcFrame(new Uint8Array(0)));
          await once(stream, "close");
          assert.equal(status, "0", `${path} ${contentType}`);
        }
      }
      // 300 calls at once: one shutdown signal, many listeners, no warning.
      const client = createClient(RngService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
      await Promise.all(Array.from({ length: 300 }, () => client.generate({ delayMs: 50 })));
      await sleep(100);
      assert.doesNotMatch(stderr, /TimeoutOverflowWarning|MaxListenersExceededWarning/);
      await assertAlive(server);
    } finally {
      session.destroy();
      await server.stop();
    }
  });
});

describe("rng-server: an exception that escapes every guard", () => {
  it("is logged, then the server drains (in-flight calls finish) and exits 1", async () => {
    const main = fileURLToPath(new URL("./fixtures/throws-later.js", import.meta.url));
    const server = await spawnRngServer({ main });
    try {
      const client = createClient(RngService, createGrpcTransport({ baseUrl: `http://${server.address}` }));
      // Still running when the fixture throws, 300 ms after listening.
      const slow = client.generate({ delayMs: 800 });
      assert.ok((await slow).rn >= 0n);
      assert.deepEqual(await server.exited, { code: 1, signal: null });
      const line = server.logs.find((l) => l.msg === "uncaught exception: draining, then exiting 1");
      assert.ok(line, "the exception is logged");
      assert.match(JSON.stringify(line.err), /escaped on purpose/);
      assert.ok(server.logs.some((l) => l.msg === "drained"));
    } catch (err) {
      if (err instanceof ConnectError) assert.fail(`the in-flight call failed: ${err.message}`);
      throw err;
    } finally {
      await server.stop();
    }
  });
});
