/**
 * What the fuzzer checks on the server after every batch: the process is
 * alive, gRPC Health/Check answers SERVING in time, and its memory (VmRSS)
 * and open file descriptors come back to their baseline.
 */
import type { ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import * as http2 from "node:http2";
import { grpcEnvelope } from "./frames.js";
import { assertLoopback, type Endpoint } from "./send.js";

/** A server process under test: what `spawnRngServer` (and `spawnJsonLogServer`) return. */
export interface FuzzTarget extends Endpoint {
  readonly child: ChildProcess;
  readonly address: string;
  /** Its JSON log lines so far. */
  readonly logs: readonly Record<string, unknown>[];
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<unknown>;
}

/** A process's resident memory and open descriptors, from /proc (undefined where there is no /proc, or it is gone). */
export interface Resources {
  rssBytes: number;
  fds: number;
}

export function readResources(pid: number): Resources | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    if (!m) return undefined;
    return { rssBytes: Number(m[1]) * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** Whether the process is still there: not exited (as far as Node saw), and `kill(pid, 0)` succeeds. */
export function isAlive(child: ChildProcess, exitedSettled: boolean): boolean {
  if (exitedSettled || child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
    return false;
  try {
    process.kill(child.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One gRPC Health/Check (service "") on a fresh HTTP/2 connection; resolves
 * when the server answers grpc-status 0 with status SERVING (1), rejects
 * with the reason otherwise or after `timeoutMs`.
 */
export function healthCheck(to: Endpoint, timeoutMs = 1000): Promise<void> {
  assertLoopback(to.host);
  const host = to.host.includes(":") ? `[${to.host}]` : to.host;
  const session = http2.connect(`http://${host}:${to.port}`);
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      session.destroy();
    };
    const fail = (err: Error) => {
      done();
      reject(err);
    };
    session.on("error", (err) => fail(err));
    const req = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
      te: "trailers",
    });
    const body: Buffer[] = [];
    let status: string | undefined;
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    req.on("trailers", (t) => {
      status = String(t["grpc-status"]);
    });
    req.on("data", (d: Buffer) => body.push(d));
    req.on("error", (err) => fail(err));
    req.on("end", () => {
      const bytes = Buffer.concat(body);
      // HealthCheckResponse { status = 1 (SERVING) }: field 1, varint 1.
      if (status === "0" && bytes.subarray(5).equals(Buffer.from([0x08, 0x01]))) {
        done();
        resolve();
      } else {
        fail(new Error(`grpc-status ${status}, body ${bytes.toString("hex")}`));
      }
    });
    req.end(grpcEnvelope(new Uint8Array(0)));
  });
}

/** What each open descriptor of a process points to ("socket:[123]", "anon_inode:[eventpoll]", a path), by number. */
export function readFdTargets(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        out.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    // no /proc, or the process is gone
  }
  return out;
}

/** How far above its baseline a server may settle after a batch. */
export interface Tolerance {
  /** Resident memory over the baseline (default 64 MiB; see the README for why). */
  rssBytes: number;
  /** Open descriptors over the baseline (default 0: every connection of the batch is closed by then). */
  fds: number;
  /** How long to wait for them to come down (default 3000 ms). */
  settleMs: number;
}

export const DEFAULT_TOLERANCE: Tolerance = { rssBytes: 64 * 1024 * 1024, fds: 0, settleMs: 3000 };

/**
 * Waits (up to `settleMs`) until the process's RSS and fd count are within
 * the tolerance of the baseline; returns undefined then, or what they were
 * at the end when they never got there.
 */
export async function settledResources(
  pid: number,
  baseline: Resources,
  tolerance: Tolerance,
): Promise<{ ok: boolean; last: Resources | undefined; waitedMs: number }> {
  const started = Date.now();
  let last: Resources | undefined;
  for (;;) {
    last = readResources(pid);
    if (!last) return { ok: true, last, waitedMs: Date.now() - started };
    if (last.rssBytes <= baseline.rssBytes + tolerance.rssBytes && last.fds <= baseline.fds + tolerance.fds) {
      return { ok: true, last, waitedMs: Date.now() - started };
    }
    if (Date.now() - started >= tolerance.settleMs)
      return { ok: false, last, waitedMs: Date.now() - started };
    await new Promise((r) => setTimeout(r, 50));
  }
}
