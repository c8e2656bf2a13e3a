/**
 * HTTP/2 framing (RFC 9113, 4.1 and 6): the 9-byte frame header and the
 * payloads of each frame type, built byte by byte so that a fuzzer can
 * write any of them, well-formed or not.
 */

/** The connection preface a client sends first (RFC 9113, 3.4). */
export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const Flag = {
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
  PADDED: 0x8,
  PRIORITY: 0x20,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The largest payload a frame may carry before SETTINGS_MAX_FRAME_SIZE is raised. */
export const DEFAULT_MAX_FRAME_SIZE = 16_384;

/**
 * One frame: a 9-byte header, then the payload. `length` overrides the
 * length field (a lie: the peer reads that many bytes as this frame); it
 * is written modulo 2^24. The stream id is written modulo 2^32, so the
 * reserved bit can be set too.
 */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = Buffer.alloc(0),
  length = payload.length,
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(length & 0xffffff, 0, 3);
  header[3] = type & 0xff;
  header[4] = flags & 0xff;
  header.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([header, payload]);
}

/** A padded payload (PADDED flag): pad length byte, the data, `pad` zero bytes. */
export function padded(data: Uint8Array, pad: number): Buffer {
  return Buffer.concat([Buffer.from([pad & 0xff]), data, Buffer.alloc(pad & 0xff)]);
}

/** The 5-byte priority block of HEADERS (PRIORITY flag) and PRIORITY frames. */
export function priorityBlock(dependsOn: number, weight: number, exclusive: boolean): Buffer {
  const b = Buffer.alloc(5);
  b.writeUInt32BE(((exclusive ? 0x80000000 : 0) | (dependsOn & 0x7fffffff)) >>> 0, 0);
  b[4] = weight & 0xff;
  return b;
}

export function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value >>> 0);
  return b;
}

/** SETTINGS entries: 2-byte identifier, 4-byte value each. */
export function settingsPayload(entries: readonly (readonly [number, number])[]): Buffer {
  const b = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    b.writeUInt16BE(id & 0xffff, i * 6);
    b.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return b;
}

/** GOAWAY: last stream id, error code, debug data. */
export function goawayPayload(lastStreamId: number, code: number, debug: Uint8Array): Buffer {
  return Buffer.concat([u32(lastStreamId), u32(code), debug]);
}

/** A gRPC length-prefixed message: flags byte (bit 0: compressed), 4-byte length (or a lie), the message. */
export function grpcEnvelope(message: Uint8Array, compressed = false, length = message.length): Buffer {
  const b = Buffer.alloc(5);
  b[0] = compressed ? 1 : 0;
  b.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([b, message]);
}
