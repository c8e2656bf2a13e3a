/**
 * Hand-built HTTP/2 bytes, for tests that must send what no well-behaved
 * client would: frames in one packet, resets before answers, protocol
 * errors. Only what those tests need: frames, literal HPACK fields, and the
 * header block of a POST.
 */

/** The HTTP/2 connection preface a client sends first (RFC 9113, 3.4). */
export const HTTP2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/** Frame types (RFC 9113, 6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113, 6): END_STREAM and ACK share a bit, on different frames. */
export const FrameFlag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
} as const;

/** One HTTP/2 frame: the 9-byte header, then the payload. */
export function h2Frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** The preface and an empty SETTINGS frame: an HTTP/2 client's hello. */
export const HTTP2_HELLO = Buffer.concat([Buffer.from(HTTP2_PREFACE), h2Frame(FrameType.SETTINGS, 0, 0)]);

/**
 * An HPACK literal header field without indexing, with a literal name
 * (RFC 7541, 6.2.2). Names and values up to 126 bytes (one-byte lengths,
 * no Huffman coding).
 */
export function hpackLiteral(name: string, value: string): Buffer {
  const n = Buffer.from(name);
  const v = Buffer.from(value);
  if (n.length > 126 || v.length > 126)
    throw new Error("hpackLiteral: name and value must be at most 126 bytes");
  return Buffer.concat([Buffer.from([0x00, n.length]), n, Buffer.from([v.length]), v]);
}

/**
 * The header block of a request: `:method POST` and `:scheme http` from
 * HPACK's static table, then `:path`, `:authority` (default 127.0.0.1) and
 * `headers` as literals.
 */
export function postHeaderBlock(
  path: string,
  headers: Record<string, string> = {},
  authority = "127.0.0.1",
): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http
    hpackLiteral(":path", path),
    hpackLiteral(":authority", authority),
    ...Object.entries(headers).map(([name, value]) => hpackLiteral(name, value)),
  ]);
}
