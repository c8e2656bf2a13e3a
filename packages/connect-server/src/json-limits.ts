import * as zlib from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";

/** Limits on JSON request bodies (the Connect protocol's JSON, and the +json codecs). */
export interface JsonLimits {
  /**
   * Largest JSON request accepted, in bytes: the whole body of a unary
   * Connect call, or one message of a streaming one. Smaller than the
   * binary limit because parsing JSON costs far more per byte (and builds
   * an object tree several times the size of the text).
   */
  readonly readMaxBytes: number;
  /** Deepest nesting of objects and arrays accepted. Protobuf's own recursion limit is 100. */
  readonly maxDepth: number;
}

/** How a request's JSON is framed: a bare body (unary Connect), or length-prefixed envelopes. */
export type JsonFraming = "body" | "enveloped";

/** The JSON framing of a request, from its content type; undefined for binary codecs. */
export function jsonFraming(contentType: string | undefined): JsonFraming | undefined {
  if (!contentType) return undefined;
  if (/^application\/json(;|$)/i.test(contentType)) return "body";
  if (/^application\/(connect|grpc|grpc-web)\+json(;|$)/i.test(contentType)) return "enveloped";
  return undefined;
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Envelope flag: the payload is compressed, so its bytes are not JSON text. */
const FLAG_COMPRESSED = 0x01;

/** The compressions whose JSON the limits can see through (what the server accepts). */
export type JsonCompression = "gzip" | "br";

/** The request compression a header names, if the limits can decompress it. */
export function jsonCompression(encoding: string | string[] | undefined): JsonCompression | undefined {
  return encoding === "gzip" || encoding === "br" ? encoding : undefined;
}

/**
 * Passes a request body through while checking it against `limits`, and
 * throws a ConnectError (which the protocol handler sends back as is) the
 * moment a limit is crossed: before the body is parsed, so an attack costs
 * one pass over its bytes, not a JSON.parse of them.
 *
 * The limits apply to the JSON text, so a compressed body (`compression`,
 * from content-encoding, connect-content-encoding or grpc-encoding) is
 * decompressed as it streams in, and its output counted and scanned; the
 * compressed bytes are passed on untouched for connect to decompress again,
 * now known to be within the limits. Decompression stops at the first
 * limit crossed, so a compression bomb costs at most `readMaxBytes` of
 * output. Bytes that fail to decompress are left for connect to reject.
 *
 * The depth scan is a four-state machine over bytes (in a string, after a
 * backslash, depth), exact for valid JSON; for invalid JSON it may count
 * wrong, and the parser rejects such a body anyway.
 */
export async function* limitJsonBody(
  body: AsyncIterable<Uint8Array>,
  framing: JsonFraming,
  limits: JsonLimits,
  contentLength: string | undefined,
  compression?: JsonCompression,
): AsyncIterable<Uint8Array> {
  const declared = contentLength === undefined ? Number.NaN : Number(contentLength);
  if (framing === "body" && declared > limits.readMaxBytes && compression === undefined) {
    throw tooLarge(declared, limits);
  }
  const text = new JsonText(limits);
  // Envelope reader: bytes of the 5-byte prefix still to read, and of the payload.
  let prefix: number[] = [];
  let payloadLeft = framing === "body" ? Number.POSITIVE_INFINITY : 0;
  let inflate: Inflate | undefined =
    framing === "body" && compression ? new Inflate(compression, text) : undefined;
  let compressed = false;
  for await (const chunk of body) {
    let i = 0;
    while (i < chunk.length) {
      if (payloadLeft === 0) {
        prefix.push(chunk[i++]!);
        if (prefix.length < 5) continue;
        const length = ((prefix[1]! << 24) | (prefix[2]! << 16) | (prefix[3]! << 8) | prefix[4]!) >>> 0;
        if (length > limits.readMaxBytes) throw tooLarge(length, limits);
        compressed = (prefix[0]! & FLAG_COMPRESSED) !== 0;
        payloadLeft = length;
        prefix = [];
        text.reset();
        inflate = compressed && compression ? new Inflate(compression, text) : undefined;
        if (length === 0) await inflate?.end();
        continue;
      }
      const end = Math.min(chunk.length, i + payloadLeft);
      if (framing !== "body") payloadLeft -= end - i;
      if (inflate !== undefined) await inflate.write(chunk.subarray(i, end));
      // A compressed payload without a compression the limits know: connect rejects it unparsed.
      else if (!compressed) text.scan(chunk, i, end);
      i = end;
      if (payloadLeft === 0 && inflate !== undefined) await inflate.end();
    }
    yield chunk;
  }
  if (framing === "body") await inflate?.end();
}

/**
 * The JSON text of one message, as it comes: its size and depth, checked
 * against the limits. `limitJsonBody` runs one per message; the fast path
 * runs one on each Connect unary JSON body it reads, chunk by chunk.
 */
export class JsonText {
  private bytes = 0;
  private readonly state = { depth: 0, inString: false, escaped: false };

  constructor(private readonly limits: JsonLimits) {}

  /** A new message begins. */
  reset(): void {
    this.bytes = 0;
    this.state.depth = 0;
    this.state.inString = false;
    this.state.escaped = false;
  }

  /** Checks `bytes[from, to)`, the next bytes of the text; throws at the first limit crossed. */
  scan(bytes: Uint8Array, from: number, to: number): void {
    this.bytes += to - from;
    if (this.bytes > this.limits.readMaxBytes) throw tooLarge(this.bytes, this.limits);
    scanDepth(bytes, from, to, this.state, this.limits.maxDepth);
  }
}

/**
 * A streaming decompressor whose output goes to a {@link JsonText} as it
 * is made. The first limit the text crosses stops it and is thrown by the
 * next write or end; a decompression error only stops the scan (connect
 * reports it in its own words).
 */
class Inflate {
  private readonly z: zlib.Gunzip | zlib.BrotliDecompress;
  private limitError: unknown;
  private broken = false;

  constructor(compression: JsonCompression, text: JsonText) {
    this.z = compression === "gzip" ? zlib.createGunzip() : zlib.createBrotliDecompress();
    this.z.on("data", (out: Buffer) => {
      if (this.limitError !== undefined) return;
      try {
        text.scan(out, 0, out.length);
      } catch (err) {
        this.limitError = err;
        this.z.destroy();
      }
    });
    this.z.on("error", () => {
      this.broken = true;
    });
  }

  /** Feeds compressed bytes; settles once their output has been scanned. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.stopped()) return this.check();
    await new Promise<void>((resolve) => {
      // The callback, or the close of a stream that stopped (an error, a limit).
      this.z.once("close", resolve);
      this.z.write(bytes, () => {
        this.z.off("close", resolve);
        resolve();
      });
    });
    this.check();
  }

  /** The compressed bytes are complete; settles once all output has been scanned. */
  async end(): Promise<void> {
    if (!this.stopped()) {
      await new Promise<void>((resolve) => {
        this.z.once("end", resolve);
        this.z.once("close", resolve);
        this.z.end();
      });
    }
    this.check();
  }

  private stopped(): boolean {
    return this.broken || this.limitError !== undefined || this.z.destroyed;
  }

  private check(): void {
    if (this.limitError !== undefined) throw this.limitError;
  }
}

function scanDepth(
  bytes: Uint8Array,
  from: number,
  to: number,
  s: { depth: number; inString: boolean; escaped: boolean },
  maxDepth: number,
): void {
  let { depth, inString, escaped } = s;
  for (let i = from; i < to; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (escaped) escaped = false;
      else if (b === BACKSLASH) escaped = true;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      if (++depth > maxDepth) {
        throw new ConnectError(
          `JSON request nests deeper than ${maxDepth} levels (the server's --json-max-depth): flatten the message, or send binary protobuf`,
          Code.InvalidArgument,
        );
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      depth--;
    }
  }
  s.depth = depth;
  s.inString = inString;
  s.escaped = escaped;
}

function tooLarge(bytes: number, limits: JsonLimits): ConnectError {
  return new ConnectError(
    `JSON request message of ${bytes} bytes or more is over the server's JSON limit of ${limits.readMaxBytes} bytes (--json-read-max-bytes): send binary protobuf, or a smaller message`,
    Code.ResourceExhausted,
  );
}
