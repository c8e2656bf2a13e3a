/**
 * A small HPACK encoder (RFC 7541), enough to build any header block a
 * fuzzer wants: indexed static-table fields, literals without indexing
 * (with an indexed or a literal name), all strings raw (no Huffman), so
 * that the bytes on the wire are the bytes generated. No dynamic table is
 * ever added to, so every block decodes on its own, in any order.
 */

/** The static table (RFC 7541, appendix A): index - 1 → [name, value]. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

const fullIndex = new Map<string, number>();
const nameIndex = new Map<string, number>();
STATIC_TABLE.forEach(([name, value], i) => {
  const key = `${name}\0${value}`;
  if (!fullIndex.has(key)) fullIndex.set(key, i + 1);
  if (!nameIndex.has(name)) nameIndex.set(name, i + 1);
});

/** An HPACK integer with an N-bit prefix (RFC 7541, 5.1); `first` holds the bits above the prefix. */
export function encodeInteger(value: number, prefixBits: number, first = 0): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** A string literal, raw (H = 0): length with a 7-bit prefix, then the bytes. */
export function encodeString(value: string | Uint8Array): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "latin1") : Buffer.from(value);
  return Buffer.concat([Buffer.from(encodeInteger(bytes.length, 7)), bytes]);
}

/** How one field is represented. */
export type FieldEncoding =
  /** The static table's entry when name and value match one, else literal with its indexed name if any. */
  | "auto"
  /** Always a literal without indexing with a literal name. */
  | "literal";

/**
 * One header field: an indexed field (`0x80 | index`) when the static table
 * has it, else a literal without indexing (RFC 7541, 6.2.2), naming the
 * static table's entry for the name when there is one. Names and values are
 * written byte for byte (latin1), whatever they hold.
 */
export function encodeField(name: string, value: string, encoding: FieldEncoding = "auto"): Buffer {
  if (encoding === "auto") {
    const full = fullIndex.get(`${name}\0${value}`);
    if (full !== undefined) return Buffer.from(encodeInteger(full, 7, 0x80));
    const named = nameIndex.get(name);
    if (named !== undefined)
      return Buffer.concat([Buffer.from(encodeInteger(named, 4)), encodeString(value)]);
  }
  return Buffer.concat([Buffer.from([0x00]), encodeString(name), encodeString(value)]);
}

/** A header block: the fields in order (pseudo-headers first, for a valid request). */
export function encodeHeaderBlock(
  fields: readonly (readonly [string, string])[],
  encoding: FieldEncoding = "auto",
): Buffer {
  return Buffer.concat(fields.map(([name, value]) => encodeField(name, value, encoding)));
}
