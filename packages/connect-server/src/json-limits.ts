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

/**
 * Passes a request body through while checking it against `limits`, and
 * throws a ConnectError (which the protocol handler sends back as is) the
 * moment a limit is crossed: before the body is parsed, so an attack costs
 * one pass over its bytes, not a JSON.parse of them.
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
): AsyncIterable<Uint8Array> {
  const declared = contentLength === undefined ? Number.NaN : Number(contentLength);
  if (framing === "body" && declared > limits.readMaxBytes) throw tooLarge(declared, limits);
  const scan = { depth: 0, inString: false, escaped: false };
  // Envelope reader: bytes of the 5-byte prefix still to read, and of the payload.
  let prefix: number[] = [];
  let payloadLeft = framing === "body" ? Number.POSITIVE_INFINITY : 0;
  let compressed = false;
  let total = 0;
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
        scan.depth = 0;
        scan.inString = false;
        scan.escaped = false;
        continue;
      }
      const end = Math.min(chunk.length, i + payloadLeft);
      if (framing === "body") {
        total += end - i;
        if (total > limits.readMaxBytes) throw tooLarge(total, limits);
      } else {
        payloadLeft -= end - i;
      }
      if (!compressed) scanDepth(chunk, i, end, scan, limits.maxDepth);
      i = end;
    }
    yield chunk;
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
