import { Code, ConnectError } from "@connectrpc/connect";
import { errorFromThrown } from "./errors.js";
import type { FastMethod } from "./fast-method.js";

/** The bytes of an empty message: zero-length, so one array serves every call. */
const EMPTY = new Uint8Array(0);

/**
 * Reads a unary request body envelope by envelope, as connect's envelope
 * decoder and unary pipeline would: each header is checked as soon as it is
 * complete, each message parsed as soon as it is complete, and each error
 * is returned at the byte where connect raises it (a size over
 * `readMaxBytes`, a compressed flag, a parse error, a second message; an
 * incomplete envelope or no message at the end).
 */
export class UnaryRequestReader {
  /**
   * The request bytes received so far: `body`, then the chunks in `more`
   * that are not concatenated to it yet (only large messages come in more
   * than one chunk).
   */
  private body: Buffer | undefined;
  private more: Buffer[] | undefined;
  private received = 0;
  /** Offset of the next envelope in the request body, and its length once its header arrived. */
  private next = 0;
  private length = -1;
  private messages = 0;
  private parsed: unknown;

  constructor(private readonly m: FastMethod) {}

  /** The request's message: valid once {@link end} found the request complete. */
  get message(): unknown {
    return this.parsed;
  }

  /** Message bytes received, without their 5-byte prefixes: the request size telemetry reports. */
  get messageBytes(): number {
    return Math.max(0, this.received - 5 * this.messages);
  }

  /** Takes the next chunk of the body; returns the error connect raises at these bytes, if any. */
  push(chunk: Buffer): ConnectError | undefined {
    if (this.body === undefined) this.body = chunk;
    else if (this.more === undefined) this.more = [chunk];
    else this.more.push(chunk);
    this.received += chunk.length;
    for (;;) {
      const available = this.received - this.next;
      if (available < 5) return undefined;
      const body = this.flatten(available >= 5 + Math.max(this.length, 0));
      if (this.length < 0) {
        this.length = body.readUInt32BE(this.next + 1);
        if (this.length > this.m.readMaxBytes) {
          return new ConnectError(
            `message size ${this.length} is larger than configured readMaxBytes ${this.m.readMaxBytes}`,
            Code.ResourceExhausted,
          );
        }
      }
      if (available - 5 < this.length) return undefined;
      const flags = body[this.next] as number;
      // A copy, as connect's decoder makes: bytes and unknown fields of the
      // message must not alias Node's read buffer (a slice of a buffer
      // shared with other frames). Small copies come from Node's buffer pool.
      const data = this.length === 0 ? EMPTY : copyOf(body, this.next + 5, this.next + 5 + this.length);
      this.next += 5 + this.length;
      this.length = -1;
      if ((flags & 0b1) === 0b1) {
        return new ConnectError(
          "received compressed envelope, but do not know how to decompress",
          Code.Internal,
        );
      }
      let message: unknown;
      try {
        message = this.m.parse(data);
      } catch (err) {
        // connect's parse throws ConnectErrors ("parse binary: …"); anything
        // else becomes the INTERNAL error the call would make of it anyway.
        return errorFromThrown(err);
      }
      if (++this.messages > 1) {
        return new ConnectError(
          "protocol error: received extra input message for unary method",
          Code.Unimplemented,
        );
      }
      this.parsed = message;
    }
  }

  /**
   * The request has ended: returns the error connect raises for an
   * incomplete envelope or a missing message, if any. Otherwise drops the
   * request bytes, which are no longer needed once the message is parsed.
   */
  end(): ConnectError | undefined {
    if (this.received > this.next) {
      return new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
    }
    if (this.messages === 0) {
      return new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
    }
    this.body = undefined;
    return undefined;
  }

  /** The body received so far as one buffer, concatenated only when `needed`. */
  private flatten(needed: boolean): Buffer {
    if (needed && this.more !== undefined) {
      this.body = Buffer.concat([this.body as Buffer, ...this.more], this.received);
      this.more = undefined;
    }
    return this.body as Buffer;
  }
}

function copyOf(buffer: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  buffer.copy(out, 0, start, end);
  return out;
}
