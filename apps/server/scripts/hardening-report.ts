/**
 * Measures what the server does under the attacks of the README's
 * "Hardening" table, against real rng-server processes on loopback, and
 * prints the table's rows with the figures of this run:
 *   pnpm --filter @rngbalance/server hardening-report
 * (HARDENING_ONLY=name,name runs just those scenario functions.)
 * Every request loop is bounded in count and time; every server is stopped.
 */
import { once } from "node:events";
import * as http from "node:http";
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import type { RngServerProcess } from "@rngbalance/rng-fleet";
import {
  assertAlive,
  healthProbe,
  PREFACE,
  rapidResetBytes,
  rawSocket,
  requestThenResetBytes,
  rssMiB,
  unfinishedUnaryCalls,
  unreadStreamingCalls,
  writeInPieces,
} from "../test/attacks.js";
import { spawnAppServer } from "../test/helpers.js";

const rows: string[] = [];
const row = (attack: string, does: string, measured: string) => {
  rows.push(`| ${attack} | ${does} | ${measured} |`);
  console.error(`done: ${attack}`);
};

/** The health probe's verdict, as the table shows it. */
function probe(server: RngServerProcess) {
  const checks = healthProbe(server, { everyMs: 50, timeoutMs: 2000 });
  return async () => {
    const { ok, failed, slowestMs } = await checks.stop();
    return `health checks: ${ok}/${ok + failed} ok, slowest ${slowestMs} ms`;
  };
}

async function sigtermWithSilentSocket() {
  const server = await spawnAppServer({ args: ["--drain-timeout-ms", "2000"] });
  await rawSocket(server);
  await rawSocket(server, PREFACE.slice(0, 10));
  const t = Date.now();
  server.child.kill("SIGTERM");
  const exit = await server.exited;
  row(
    "SIGTERM with one silent socket and one partial preface open (`--drain-timeout-ms 2000`)",
    "closes sockets that never sent a request at once; exits 0",
    `exit ${exit.code ?? exit.signal} after ${Date.now() - t} ms (before: still running after 12 s)`,
  );
}

async function stalledConnections() {
  const server = await spawnAppServer(); // the defaults: 10 s detection, 10 s HTTP/1.1 headers
  const done = probe(server);
  const t = Date.now();
  const sockets = await Promise.all([
    ...Array.from({ length: 500 }, () => rawSocket(server, PREFACE.slice(0, 12))),
    ...Array.from({ length: 500 }, () => rawSocket(server, "POST /rng.Rng/Rng HTTP/1.1\r\nHost: x\r\n")),
  ]);
  const closed = await Promise.all(sockets.map((s) => s.closed));
  const h2 = Math.max(...closed.slice(0, 500)) - t;
  const h1 = Math.max(...closed.slice(500)) - t;
  row(
    "500 partial HTTP/2 prefaces + 500 partial HTTP/1.1 headers, held open",
    "detection timeout (10 s) and HTTP/1.1 headers timeout (10 s), from accept",
    `all closed: prefaces by ${(h2 / 1000).toFixed(1)} s, HTTP/1.1 by ${(h1 / 1000).toFixed(1)} s; ${await done()} (before: none closed in 100 s)`,
  );
  await server.stop();
}

async function idleConnections() {
  const server = await spawnAppServer({ args: ["--idle-timeout-ms", "2000"] });
  const t = Date.now();
  const sessions = Array.from({ length: 2000 }, () => {
    const s = http2.connect(`http://${server.address}`);
    s.on("error", () => {});
    return once(s, "goaway").then(() => {
      s.destroy();
      return Date.now();
    });
  });
  const at = await Promise.all(sessions);
  row(
    "2,000 idle HTTP/2 connections (`--idle-timeout-ms 2000`; default 5 min)",
    "GOAWAY after the idle timeout (grpc-go's MaxConnectionIdle)",
    `all 2,000 got GOAWAY by ${((Math.max(...at) - t) / 1000).toFixed(1)} s (before: none closed)`,
  );
  await server.stop();
}

async function rapidReset() {
  const server = await spawnAppServer();
  const done = probe(server);
  const t = Date.now();
  const attacks = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const { socket, closed } = await rawSocket(server);
      socket.write(rapidResetBytes(10_000));
      return Promise.race([closed, new Promise<number>((r) => setTimeout(r, 30_000, Number.NaN))]);
    }),
  );
  const slowest = Math.max(...attacks) - t;
  row(
    "8 connections × 10,000 HEADERS + RST_STREAM (rapid reset)",
    "destroys the connection when its reset budget (1000, +33/s, as nghttp2's) runs out; logs why",
    `all 8 sockets closed by the server within ${slowest} ms; ${await done()} (before: sockets open for minutes)`,
  );
  await server.stop();
}

async function nestedJson() {
  const server = await spawnAppServer();
  const done = probe(server);
  // Half of them declare their length (refused before a byte is read), half are chunked (refused by depth).
  const body = `{"x":${"[".repeat(2 * 1024 * 1024)}${"]".repeat(2 * 1024 * 1024)}}`;
  const t = Date.now();
  const statuses = await Promise.all(
    Array.from(
      { length: 8 },
      (_, i) =>
        new Promise<number>((resolve) => {
          const req = http.request(
            `http://${server.address}/rng.Rng/Rng`,
            {
              method: "POST",
              agent: false,
              headers: {
                "content-type": "application/json",
                ...(i % 2 ? { "transfer-encoding": "chunked" } : { "content-length": String(body.length) }),
              },
            },
            (res) => {
              // The answer comes before the upload ends; the server may then close.
              resolve(res.statusCode ?? 0);
              res.resume();
            },
          );
          req.on("error", () => {});
          req.end(body);
        }),
    ),
  );
  row(
    "8 × 4 MiB deeply nested JSON bodies on the Connect protocol, at once",
    "JSON limits: 1 MiB (`--json-read-max-bytes`), depth 100 (`--json-max-depth`), checked as bytes arrive, before parsing",
    `all answered HTTP ${[...new Set(statuses)].join("/")} (invalid_argument / resource_exhausted) in ${Date.now() - t} ms; ${await done()} (before: server stalled 4.7 s)`,
  );
  await server.stop();
}

/** RSS of the server, sampled every 250 ms while `during` runs: the peak, in MiB. */
async function peakRss(server: RngServerProcess, during: Promise<unknown>): Promise<number> {
  let peak = rssMiB(server.child.pid as number);
  let done = false;
  void during.finally(() => {
    done = true;
  });
  while (!done) {
    peak = Math.max(peak, rssMiB(server.child.pid as number));
    await new Promise((r) => setTimeout(r, 250));
  }
  return peak;
}

/** SIGTERM, and how long the process took to exit. */
async function sigterm(server: RngServerProcess): Promise<string> {
  const t = Date.now();
  server.child.kill("SIGTERM");
  const exit = await server.exited;
  return `SIGTERM: exit ${exit.code ?? exit.signal} after ${((Date.now() - t) / 1000).toFixed(1)} s`;
}

async function resetBeforeAnswer() {
  const server = await spawnAppServer();
  const done = probe(server);
  for (const contentType of ["application/grpc", "application/grpc-web+proto"]) {
    for (let i = 0; i < 50; i++) {
      const { socket, closed } = await rawSocket(
        server,
        requestThenResetBytes("/no.Such/Method", contentType),
      );
      await Promise.race([closed, new Promise((r) => setTimeout(r, 20))]);
      socket.destroy();
    }
  }
  await assertAlive(server);
  row(
    "100 × HEADERS (END_STREAM) for an unknown gRPC / gRPC-Web method, then RST_STREAM, in one write",
    "answers nothing on a stream that is gone; an exception a request triggers is logged with its connection and method, and ends that request only",
    `alive; ${await done()} (before: exit 1 at the first one, ERR_HTTP2_INVALID_STREAM)`,
  );
  await server.stop();
}

async function rapidResetInPieces() {
  const server = await spawnAppServer();
  const done = probe(server);
  const t = Date.now();
  const { socket, closed } = await rawSocket(server);
  writeInPieces(socket, rapidResetBytes(5000));
  const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(r, 10_000, Number.NaN))]);
  await assertAlive(server);
  row(
    "5,000 HEADERS + RST_STREAM in 16 KiB writes on one connection",
    "the cut waits for a later turn of the event loop, never inside nghttp2's callbacks",
    `socket closed after ${at - t} ms; alive; ${await done()} (before: SIGABRT in node_http2.cc on Node 20)`,
  );
  socket.destroy();
  await server.stop();
}

async function slowReaders() {
  const server = await spawnAppServer();
  const done = probe(server);
  const before = rssMiB(server.child.pid as number);
  const sessions = Array.from({ length: 8 }, () => unreadStreamingCalls(server, 250));
  const peak = await peakRss(server, new Promise((r) => setTimeout(r, 8000)));
  const health = await done();
  const exit = await sigterm(server);
  for (const s of sessions) s.destroy();
  row(
    "8 connections × 250 `GenerateStream(count 1000)` calls that never read (window 0)",
    "a stream queues at most 16 writes / 4 KiB for a peer that does not read; a connection holding more than `--max-connection-buffer-bytes` (32 MiB), or the largest when the process holds more than `--max-buffer-bytes` (256 MiB), is cut with a log line",
    `peak RSS +${(peak - before).toFixed(0)} MiB over 8 s; ${health}; ${exit} (drain timeout 10 s) (before: +980 MB and growing, health checks timing out, still running 20 s after SIGTERM)`,
  );
}

async function unfinishedBodies() {
  const server = await spawnAppServer();
  const done = probe(server);
  const before = rssMiB(server.child.pid as number);
  const t = Date.now();
  const session = unfinishedUnaryCalls(server, 100, 4 * 1024 * 1024 - 95);
  const closed = Promise.race([once(session, "close"), new Promise((r) => setTimeout(r, 20_000))]);
  const peak = await peakRss(server, closed);
  const cutMs = Date.now() - t;
  row(
    "one connection, 100 unary calls each sending just under 4 MiB and never ending",
    "request bytes not yet handed to a handler count against `--max-connection-buffer-bytes` (32 MiB) and `--max-buffer-bytes`; a stalled body ends after `--request-idle-timeout-ms` (30 s)",
    `connection cut after ${cutMs} ms; peak RSS +${(peak - before).toFixed(0)} MiB; ${await done()}; ${await sigterm(server)} (before: +405 MB held until SIGTERM)`,
  );
  session.destroy();
}

async function compressedJson() {
  const server = await spawnAppServer();
  const done = probe(server);
  const bomb = gzipSync(Buffer.from(`{"x":${"[".repeat(2 * 1024 * 1024)}${"]".repeat(2 * 1024 * 1024)}}`));
  const t = Date.now();
  const statuses = await Promise.all(
    Array.from(
      { length: 8 },
      () =>
        new Promise<number>((resolve) => {
          const req = http.request(
            `http://${server.address}/rng.Rng/Rng`,
            {
              method: "POST",
              agent: false,
              headers: { "content-type": "application/json", "content-encoding": "gzip" },
            },
            (res) => {
              resolve(res.statusCode ?? 0);
              res.resume();
            },
          );
          req.on("error", () => resolve(0));
          req.end(bomb);
        }),
    ),
  );
  row(
    `8 × gzip bombs (${(bomb.length / 1024).toFixed(0)} KiB → 4 MiB of nested JSON) on the Connect protocol, at once`,
    "the JSON limits count and depth-scan the decompressed bytes as they stream, on every protocol and codec, and stop decompressing at the first limit",
    `all answered HTTP ${[...new Set(statuses)].join("/")} in ${Date.now() - t} ms; ${await done()} (before: accepted and parsed, 4-6 s of CPU each)`,
  );
  await server.stop();
}

async function hoardedConnections() {
  const server = await spawnAppServer({ args: ["--max-connections", "300"] });
  const hoard = Array.from({ length: 300 }, () => {
    const s = http2.connect(`http://${server.address}`);
    s.on("error", () => {});
    return s;
  });
  await new Promise((r) => setTimeout(r, 1000));
  const done = probe(server);
  await new Promise((r) => setTimeout(r, 3000));
  const health = await done();
  const open = hoard.filter((s) => !s.destroyed && !s.closed).length;
  for (const s of hoard) s.destroy();
  row(
    "one client holds 300 idle connections at `--max-connections 300`",
    "a newcomer makes room: the oldest idle connection of the client holding the most closes; refused only when every connection has a call",
    `${health}; the hoarder kept ${open} of 300 (before: every health check refused)`,
  );
  await server.stop();
}

for (const scenario of [
  sigtermWithSilentSocket,
  stalledConnections,
  idleConnections,
  rapidReset,
  nestedJson,
  resetBeforeAnswer,
  rapidResetInPieces,
  slowReaders,
  unfinishedBodies,
  compressedJson,
  hoardedConnections,
]) {
  // HARDENING_ONLY=slowReaders,compressedJson runs just those.
  const only = process.env.HARDENING_ONLY?.split(",");
  if (only && !only.includes(scenario.name)) continue;
  await scenario();
}
console.log("| attack | what the server does | measured (this run) |\n|---|---|---|");
console.log(rows.join("\n"));
