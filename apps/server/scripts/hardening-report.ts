/**
 * Measures what the server does under the attacks of the README's
 * "Hardening" table, against real rng-server processes on loopback, and
 * prints the table's rows with the figures of this run:
 *   pnpm --filter @rngbalance/server hardening-report
 * Every request loop is bounded in count and time; every server is stopped.
 */
import { once } from "node:events";
import * as http from "node:http";
import * as http2 from "node:http2";
import type { RngServerProcess } from "@rngbalance/rng-server/testing";
import { healthProbe, PREFACE, rapidResetBytes, rawSocket } from "../test/attacks.js";
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

for (const scenario of [
  sigtermWithSilentSocket,
  stalledConnections,
  idleConnections,
  rapidReset,
  nestedJson,
]) {
  await scenario();
}
console.log("| attack | what the server does | measured (this run) |\n|---|---|---|");
console.log(rows.join("\n"));
