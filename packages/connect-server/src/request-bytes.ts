import { Code, ConnectError } from "@connectrpc/connect";

/**
 * How many request bytes the server holds for a call: the bytes received
 * that the application has not been able to act on yet.
 *
 * A unary call's whole body is held until the request ends (connect and the
 * fast path parse it then), and so is a Connect unary body (not enveloped).
 * A streaming call hands each message on as soon as its envelope is
 * complete, so only the incomplete envelope is held. Counting this, per
 * connection and per process, is what bounds the memory of a peer that
 * starts many requests and never finishes them.
 */
export class HeldRequestBytes {
  /** Bytes held now. */
  held = 0;
  /** Bytes of the current envelope's 5-byte prefix seen so far (enveloped streams only). */
  private prefixSeen = 0;
  /** The current envelope's payload length, read from its prefix. */
  private length = 0;
  /** Payload bytes of the current envelope still to come; -1 while its prefix is incomplete. */
  private payloadLeft = -1;

  /**
   * @param wholeBody - true when the application keeps every byte until the
   *   request ends (unary methods, Connect unary bodies, unknown paths);
   *   false when complete envelopes are handed on (streaming requests).
   */
  constructor(private readonly wholeBody: boolean) {}

  /** Counts a chunk of the request body; returns how `held` changed. */
  push(chunk: Uint8Array): number {
    if (this.wholeBody) {
      this.held += chunk.byteLength;
      return chunk.byteLength;
    }
    const before = this.held;
    let i = 0;
    while (i < chunk.byteLength) {
      if (this.payloadLeft < 0) {
        // The prefix: flags (1 byte), then the length (4 bytes, big-endian).
        if (this.prefixSeen >= 1) this.length = this.length * 256 + (chunk[i] as number);
        i++;
        this.held++;
        if (++this.prefixSeen === 5) {
          this.payloadLeft = this.length;
          this.prefixSeen = 0;
          this.length = 0;
        }
      } else {
        const take = Math.min(this.payloadLeft, chunk.byteLength - i);
        i += take;
        this.held += take;
        this.payloadLeft -= take;
      }
      if (this.payloadLeft === 0) {
        // A complete message: handed on to the application.
        this.held = 0;
        this.payloadLeft = -1;
      }
    }
    return this.held - before;
  }

  /** The request ended or the stream closed: nothing is held any more; returns how `held` changed. */
  release(): number {
    const delta = -this.held;
    this.held = 0;
    return delta;
  }
}

/** The error a call fails with when the server will hold no more of its request bytes (see {@link HeldRequestBytes}). */
export function heldBytesRefused(): ConnectError {
  return new ConnectError(
    "the server holds too many request bytes for this connection or in all (--max-connection-buffer-bytes, --max-buffer-bytes): retry later, or send smaller messages",
    Code.ResourceExhausted,
  );
}
