/**
 * Percent-encodes a grpc-message value as the gRPC HTTP/2 spec asks: every
 * byte outside printable ASCII (0x20-0x7E), and "%" itself.
 */
export function percentEncodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}
