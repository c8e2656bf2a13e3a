import * as http2 from "node:http2";

/** Most response writes a stream may have queued for a peer that is not reading. */
const MAX_QUEUED_WRITES = 16;
/** Most response bytes a stream may have queued, below Node's 16 KiB high-water mark. */
const MAX_QUEUED_BYTES = 4096;

/**
 * Node's Http2ServerResponse with a tighter bound on what one stream queues
 * for a peer that stops reading (flow-control window 0).
 *
 * Node asks a writer to wait ('drain') only once 16 KiB are queued. A
 * server stream of small messages (connect-node writes one chunk per
 * message) queues hundreds of writes before that, each costing about 1 KiB
 * of heap (the chunk, its callback, connect's promise): 250 such streams on
 * one connection held ~110 MB. Here a write that finds the stream holding
 * MAX_QUEUED_WRITES writes or MAX_QUEUED_BYTES bytes returns false, and
 * 'drain' is emitted once that write has gone out, so connect-node (which
 * waits for 'drain' whenever write returns false) stops producing. A stream
 * then holds at most ~16 KiB of heap, whatever its messages' size.
 */
export class BoundedHttp2ServerResponse extends http2.Http2ServerResponse {
  /** Writes made since the stream's queue was last seen empty. */
  private queuedWrites = 0;

  // biome-ignore lint/suspicious/noExplicitAny: Node's overloads (chunk, encoding?, callback?).
  override write(chunk: any, encoding?: any, callback?: any): boolean {
    if (typeof encoding === "function") {
      callback = encoding;
      encoding = undefined;
    }
    const stream = this.stream;
    if (stream === undefined || stream.writableLength === 0) this.queuedWrites = 0;
    if (++this.queuedWrites < MAX_QUEUED_WRITES && (stream?.writableLength ?? 0) < MAX_QUEUED_BYTES) {
      return super.write(chunk, encoding, callback);
    }
    // Over our bound: this write's callback runs once it (and so everything
    // before it) has gone out; the writer waits for the 'drain' sent then,
    // unless Node sends its own because the high-water mark was reached too.
    let nodeDrains = false;
    nodeDrains = !super.write(chunk, encoding, (err?: Error | null) => {
      this.queuedWrites = 0;
      callback?.(err);
      if (!err && !nodeDrains) this.emit("drain");
    });
    return false;
  }
}
