/**
 * What the hardening tests and `hardening-report` do to a server, in one
 * place: raw sockets that stall or misbehave, hand-built HTTP/2 frames, and
 * a health probe that shows whether everyone else is still served.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@rngbalance/grpc-protos";
import { GenerateStreamRequestSchema } from "@rngbalance/proto/rng/v1";
import {
  FrameFlag,
  FrameType,
  HTTP2_HELLO,
  HTTP2_PREFACE,
  h2Frame,
  postHeaderBlock,
} from "@rngbalance/testkit";
import { grpcFrame } from "./helpers.js";

export { HTTP2_HELLO, h2Frame };
/** The HTTP/2 connection preface a client sends first (RFC 9113, 3.4). */
export const PREFACE = HTTP2_PREFACE;

/** Where a server listens. */
interface Listening {
  readonly host: string;
  readonly port: number;
  readonly address: string;
}

/** A raw TCP connection that sends `first` (if any); `closed` settles (with when) once the server closes it. */
export async function rawSocket(server: Listening, first?: string | Buffer) {
  const socket = net.connect({ host: server.host, port: server.port });
  // The server may reset it at any point: that is what is being measured.
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.resume(); // read and drop whatever the server sends
  // Not events.once: it would reject on the "error" of a reset.
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  if (first !== undefined) socket.write(first);
  return { socket, closed };
}

const { HEADERS, RST_STREAM, DATA, GOAWAY, PING } = FrameType;
const { ACK, END_HEADERS, END_STREAM } = FrameFlag;

/**
 * HPACK: :method POST, :scheme http, :path / from the static table (3, 6,
 * 4), then :authority (name 1) as a literal without indexing.
 */
const MINIMAL_HEADER_BLOCK = Buffer.concat([
  Buffer.from([0x83, 0x86, 0x84, 0x01, 0x09]),
  Buffer.from("127.0.0.1"),
]);

/**
 * The hello, then one request with END_STREAM (POST `path` with
 * `contentType`) reset at once by the client, all in one write: a call the
 * server may try to answer after the stream is gone.
 */
export function requestThenResetBytes(path: string, contentType: string): Buffer {
  const block = postHeaderBlock(path, { "content-type": contentType });
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  return Buffer.concat([
    HTTP2_HELLO,
    h2Frame(HEADERS, END_HEADERS | END_STREAM, 1, block),
    h2Frame(RST_STREAM, 0, 1, rst),
  ]);
}

/**
 * A frame that makes Node destroy the session while nghttp2 is still
 * reading the packet (a client GOAWAY with PROTOCOL_ERROR, or a PING ACK the
 * server never asked for), then HEADERS and DATA for a new stream: Node 22
 * aborted on it (wire-fuzz seeds 1735103426 and 1845222954). Returns the
 * frames after the hello.
 */
export function sessionErrorThenRequestBytes(
  breaker: "goaway" | "ping-ack",
  path: string,
  contentType: string,
): Buffer {
  let first: Buffer;
  if (breaker === "goaway") {
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(0, 0); // last stream id
    goaway.writeUInt32BE(http2.constants.NGHTTP2_PROTOCOL_ERROR, 4);
    first = h2Frame(GOAWAY, 0, 0, goaway);
  } else {
    first = h2Frame(PING, ACK, 0, Buffer.alloc(8));
  }
  const block = postHeaderBlock(path, { "content-type": contentType });
  return Buffer.concat([
    first,
    h2Frame(HEADERS, END_HEADERS, 1, block),
    h2Frame(DATA, 0, 1, Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01])),
  ]);
}

/** Writes `bytes` in pieces of `size` bytes, as a client flooding over TCP does. */
export function writeInPieces(socket: net.Socket, bytes: Buffer, size = 16_384): void {
  for (let at = 0; at < bytes.length; at += size) socket.write(bytes.subarray(at, at + size));
}

/**
 * Asserts that the server process is alive (it has not exited) and still
 * answers a health check within 1 s: what every attack test checks last.
 */
export async function assertAlive(server: Listening & { child: ChildProcess }): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) {
    throw new Error(`the server exited (${server.child.exitCode ?? server.child.signalCode})`);
  }
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${server.address}` }));
  await health.check({ service: "" }, { timeoutMs: 1000 });
}

/** The resident set size of process `pid`, in MiB (Linux). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/**
 * A peer that never reads: an HTTP/2 connection with a flow-control window
 * of 0 (the server may not send a byte of DATA), on which `calls`
 * `GenerateStream(count 1000)` calls are started. Destroy it when done.
 */
export function unreadStreamingCalls(server: Listening, calls: number): http2.ClientHttp2Session {
  const session = attackerSession(server, { settings: { initialWindowSize: 0 } });
  session.on("error", () => {});
  const body = grpcFrame(
    toBinary(GenerateStreamRequestSchema, create(GenerateStreamRequestSchema, { count: 1000 })),
  );
  for (let i = 0; i < calls; i++) {
    const stream = session.request({
      ":method": "POST",
      ":path": "/rng.v1.RngService/GenerateStream",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("error", () => {});
    stream.end(body);
  }
  return session;
}

/**
 * Unary calls that never end: on one new HTTP/2 connection, `calls`
 * `Generate` requests, each declaring a message just under 4 MiB and sending
 * `sendBytes` of it (stopping if the server cuts the connection). Destroy
 * the session when done.
 */
export function unfinishedUnaryCalls(
  server: Listening,
  calls: number,
  sendBytes: number,
): http2.ClientHttp2Session {
  const session = attackerSession(server);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(4 * 1024 * 1024 - 10, 1);
  const bytes = Buffer.concat([prefix, Buffer.alloc(sendBytes - 5)]);
  for (let i = 0; i < calls && !session.destroyed; i++) {
    const stream = session.request({
      ":method": "POST",
      ":path": "/rng.v1.RngService/Generate",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.on("error", () => {});
    stream.write(bytes);
  }
  return session;
}

/**
 * An HTTP/2 session for an attacker: the server cutting it is the point,
 * so its errors are expected. Its socket gets a listener of its own too:
 * Node's client drops its own once the session is gone, and a TCP reset
 * that comes after that (the server closed with the attacker's bytes
 * unread) would be an uncaught ECONNRESET in the test process.
 */
export function attackerSession(
  server: Listening,
  options: http2.ClientSessionOptions = {},
): http2.ClientHttp2Session {
  const session = http2.connect(`http://${server.address}`, options);
  session.on("error", () => {});
  session.once("connect", (_session, socket) => socket.on("error", () => {}));
  return session;
}

/** A rapid-reset attack (CVE-2023-44487): the hello, then `streams` streams each opened and reset at once. */
export function rapidResetBytes(streams: number): Buffer {
  const rst = Buffer.alloc(4);
  rst.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
  const frames: Buffer[] = [HTTP2_HELLO];
  for (let i = 0, id = 1; i < streams; i++, id += 2) {
    frames.push(h2Frame(HEADERS, END_HEADERS, id, MINIMAL_HEADER_BLOCK), h2Frame(RST_STREAM, 0, id, rst));
  }
  return Buffer.concat(frames);
}

/**
 * Health checks every `everyMs` on a connection of their own, each with a
 * `timeoutMs` deadline, until stopped: how many failed, and the slowest,
 * show whether the server kept answering everyone else.
 */
export function healthProbe(server: Listening, { everyMs = 100, timeoutMs = 1000 } = {}) {
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://${server.address}` }));
  let ok = 0;
  let failed = 0;
  let slowestMs = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      try {
        await health.check({ service: "" }, { timeoutMs });
        ok++;
      } catch {
        failed++;
      }
      slowestMs = Math.max(slowestMs, Date.now() - started);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ok, failed, slowestMs };
    },
  };
}
