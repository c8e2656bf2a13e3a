import { create, type DescMessage, isMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { MessageSizes } from "./call-telemetry.js";

/**
 * A message's size in the binary format. Used where the pool does not see
 * the bytes on the wire (connect-node's transports, streams): it costs a
 * serialization, so only while metrics are on; it is the uncompressed size.
 */
export function binarySize<D extends DescMessage>(schema: D, message: MessageInitShape<D>): number {
  return toBinary(schema, isMessage(message, schema) ? message : create(schema, message)).byteLength;
}

/** `input`, adding each message's size to `sizes.sent` as it goes out. */
export async function* countSent<D extends DescMessage>(
  input: AsyncIterable<MessageInitShape<D>>,
  schema: D,
  sizes: MessageSizes,
): AsyncIterable<MessageInitShape<D>> {
  for await (const message of input) {
    sizes.sent += binarySize(schema, message);
    yield message;
  }
}
