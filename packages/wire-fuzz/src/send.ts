/** Sends generated sequences to a server, each on a fresh TCP connection, bounded in time. */
import * as net from "node:net";
import { chunks, encodeSequence } from "./encode.js";
import type { Batch, Sequence } from "./model.js";

/** Where a server listens (loopback only: see {@link assertLoopback}). */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** What sending took. */
export interface SendStats {
  sequences: number;
  /** HTTP/2 frames, or HTTP/1.1 requests. */
  frames: number;
  bytesSent: number;
  bytesReceived: number;
}

export function emptyStats(): SendStats {
  return { sequences: 0, frames: 0, bytesSent: 0, bytesReceived: 0 };
}

export function addStats(into: SendStats, more: SendStats): void {
  into.sequences += more.sequences;
  into.frames += more.frames;
  into.bytesSent += more.bytesSent;
  into.bytesReceived += more.bytesReceived;
}

/** Throws unless `host` is a loopback address (127.0.0.0/8, ::1, localhost): the fuzzer sends nowhere else. */
export function assertLoopback(host: string): void {
  if (!(net.isIPv4(host) && host.startsWith("127.")) && host !== "::1" && host !== "localhost") {
    throw new Error(`wire-fuzz sends only to loopback addresses, not ${host}`);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Sends one sequence on a fresh connection: its writes with their pauses,
 * then waits `lingerMs` for the server's answers (read and dropped), then
 * ends or resets the connection. Never takes more than `timeoutMs` (the
 * socket is destroyed then); connection errors are expected and ignored.
 */
export async function sendSequence(to: Endpoint, seq: Sequence, timeoutMs = 5000): Promise<SendStats> {
  assertLoopback(to.host);
  const encoded = encodeSequence(seq);
  const stats: SendStats = { sequences: 1, frames: encoded.frames, bytesSent: 0, bytesReceived: 0 };
  const socket = net.connect({ host: to.host, port: to.port });
  socket.on("error", () => {});
  socket.on("data", (d: Buffer) => {
    stats.bytesReceived += d.length;
  });
  let isClosed = false;
  const closed = new Promise<void>((resolve) =>
    socket.once("close", () => {
      isClosed = true;
      resolve();
    }),
  );
  const deadline = setTimeout(() => socket.destroy(), timeoutMs);
  try {
    await Promise.race([new Promise((r) => socket.once("connect", r)), closed]);
    for (const chunk of chunks(encoded.bytes, seq.write)) {
      if (isClosed || socket.destroyed) break;
      if (chunk.bytes.length > 0) {
        socket.write(chunk.bytes);
        stats.bytesSent += chunk.bytes.length;
      }
      if (chunk.delayMs > 0) await Promise.race([sleep(chunk.delayMs), closed]);
    }
    if (seq.write.lingerMs > 0) await Promise.race([sleep(seq.write.lingerMs), closed]);
    if (seq.write.close === "end" && !isClosed) {
      socket.end();
      await Promise.race([sleep(200), closed]);
    }
  } finally {
    socket.destroy();
    await closed;
    clearTimeout(deadline);
  }
  return stats;
}

/** Sends a batch: its sequences `parallel` at a time, each on its own connection. */
export async function sendBatch(to: Endpoint, batch: Batch, timeoutMs = 5000): Promise<SendStats> {
  const total = emptyStats();
  const parallel = Math.max(1, batch.parallel);
  for (let i = 0; i < batch.sequences.length; i += parallel) {
    const group = batch.sequences.slice(i, i + parallel);
    for (const s of await Promise.all(group.map((seq) => sendSequence(to, seq, timeoutMs))))
      addStats(total, s);
  }
  return total;
}
