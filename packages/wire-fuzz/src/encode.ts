/** Turns generated sequences (model.ts) into the bytes and socket writes they stand for. */
import {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  Flag,
  FrameType,
  goawayPayload,
  grpcEnvelope,
  PREFACE,
  padded,
  priorityBlock,
  settingsPayload,
  u32,
} from "./frames.js";
import { encodeHeaderBlock } from "./hpack.js";
import type {
  Body,
  H2Op,
  H2Sequence,
  HeaderBlock,
  Http1Body,
  Http1Request,
  Http1Sequence,
  RequestHeaders,
  Sequence,
  StreamRef,
  WritePlan,
} from "./model.js";

/** A sequence as bytes: the whole, and how many frames (HTTP/2) or requests (HTTP/1.1) it holds. */
export interface Encoded {
  readonly bytes: Buffer;
  readonly frames: number;
}

/** One socket write and the pause after it. */
export interface Chunk {
  readonly bytes: Buffer;
  readonly delayMs: number;
}

type Field = readonly [string, string];

/** The header list a {@link RequestHeaders} recipe stands for. */
export function requestFields(r: RequestHeaders): Field[] {
  let pseudo: Field[] = [
    [":method", r.method],
    [":scheme", "http"],
    [":path", r.path],
  ];
  if (r.authority !== null) pseudo.push([":authority", r.authority]);
  const regular: Field[] = [];
  if (r.contentType !== null) regular.push(["content-type", r.contentType]);
  if (r.te) regular.push(["te", "trailers"]);
  regular.push(...r.metadata);
  if (r.many !== null) for (let i = 0; i < r.many; i++) regular.push([`x-many-${i % 7}`, String(i)]);
  switch (r.mangle) {
    case "pseudo-after-regular":
      return [...regular, ...pseudo];
    case "drop-method":
      pseudo = pseudo.filter(([n]) => n !== ":method");
      break;
    case "drop-path":
      pseudo = pseudo.filter(([n]) => n !== ":path");
      break;
    case "drop-scheme":
      pseudo = pseudo.filter(([n]) => n !== ":scheme");
      break;
    case "dup-path":
      pseudo.push([":path", r.path]);
      break;
    case "uppercase-pseudo":
      pseudo = pseudo.map(([n, v]) => [n.toUpperCase(), v] as const);
      break;
    case "unknown-pseudo":
      pseudo.push([":protocol", "websocket"]);
      break;
    case "status-in-request":
      pseudo.push([":status", "200"]);
      break;
    case null:
      break;
  }
  return [...pseudo, ...regular];
}

export function encodeHeaderBlockSpec(block: HeaderBlock): Buffer {
  switch (block.kind) {
    case "raw":
      return Buffer.from(block.bytes);
    case "fields":
      return encodeHeaderBlock(block.fields, block.encoding);
    case "request":
      return encodeHeaderBlock(requestFields(block), block.encoding);
  }
}

export function encodeBody(body: Body): Buffer {
  if (body.kind === "bytes") return Buffer.from(body.bytes);
  return Buffer.concat(body.envelopes.map((e) => grpcEnvelope(e.message, e.compressed, e.length)));
}

/** Splits `bytes` into `n` pieces (at least one, possibly empty). */
function split(bytes: Buffer, n: number, maxPiece = Number.POSITIVE_INFINITY): Buffer[] {
  const count = Math.max(1, n, Math.ceil(bytes.length / maxPiece));
  const size = Math.ceil(bytes.length / count);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(bytes.subarray(i * size, Math.min(bytes.length, (i + 1) * size)));
  return out;
}

/** Encodes the frames of one HTTP/2 connection, resolving stream references as they come. */
class H2Encoder {
  private next = 1;
  private readonly opened: number[] = [];
  readonly out: Buffer[] = [];
  frames = 0;

  private resolve(ref: StreamRef, opening = false): number {
    let id: number;
    switch (ref.kind) {
      case "new":
        id = this.next;
        this.next += 2;
        break;
      case "last":
        id = this.opened.at(-1) ?? 1;
        break;
      case "back":
        id = this.opened.at(-1 - ref.n) ?? this.opened[0] ?? 1;
        break;
      case "raw":
        id = ref.id;
        break;
    }
    if (opening) this.opened.push(id);
    return id;
  }

  private frame(type: number, flags: number, stream: number, payload?: Uint8Array, length?: number): void {
    this.out.push(encodeFrame(type, flags, stream, payload, length));
    this.frames++;
  }

  private headers(
    id: number,
    blockBytes: Buffer,
    o: {
      endStream: boolean;
      fragments: number;
      unterminated: boolean;
      padding?: number | undefined;
      priority?: { dependsOn: number; weight: number; exclusive: boolean } | undefined;
    },
  ): void {
    const pieces = split(blockBytes, o.fragments, DEFAULT_MAX_FRAME_SIZE - 512);
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      const endHeaders = last && !o.unterminated ? Flag.END_HEADERS : 0;
      if (i > 0) {
        this.frame(FrameType.CONTINUATION, endHeaders, id, piece);
        return;
      }
      let flags = endHeaders | (o.endStream ? Flag.END_STREAM : 0);
      let payload: Buffer = piece;
      if (o.priority) {
        flags |= Flag.PRIORITY;
        payload = Buffer.concat([
          priorityBlock(o.priority.dependsOn, o.priority.weight, o.priority.exclusive),
          payload,
        ]);
      }
      if (o.padding !== undefined) {
        flags |= Flag.PADDED;
        payload = padded(payload, o.padding);
      }
      this.frame(FrameType.HEADERS, flags, id, payload);
    });
  }

  private data(
    id: number,
    body: Buffer,
    o: { endStream: boolean; frames: number; padding?: number | undefined; lengthDelta?: number },
  ): void {
    const pieces = split(body, o.frames, DEFAULT_MAX_FRAME_SIZE - 256);
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      let flags = last && o.endStream ? Flag.END_STREAM : 0;
      let payload: Buffer = piece;
      if (o.padding !== undefined) {
        flags |= Flag.PADDED;
        payload = padded(payload, o.padding);
      }
      const length = last && o.lengthDelta ? Math.max(0, payload.length + o.lengthDelta) : payload.length;
      this.frame(FrameType.DATA, flags, id, payload, length);
    });
  }

  op(op: H2Op): void {
    switch (op.op) {
      case "headers": {
        const id = this.resolve(op.stream, true);
        const dep = op.priority
          ? {
              dependsOn: op.priority.dependsOn === "self" ? id : this.resolve(op.priority.dependsOn),
              weight: op.priority.weight,
              exclusive: op.priority.exclusive,
            }
          : undefined;
        this.headers(id, encodeHeaderBlockSpec(op.block), {
          endStream: op.endStream,
          fragments: op.fragments,
          unterminated: op.unterminated,
          padding: op.padding,
          priority: dep,
        });
        return;
      }
      case "data":
        this.data(this.resolve(op.stream), encodeBody(op.body), op);
        return;
      case "call": {
        const id = this.resolve({ kind: "new" }, true);
        const hasBody = op.body !== undefined;
        const end = op.finish === "end" || op.finish === "end-then-reset";
        this.headers(id, encodeHeaderBlockSpec(op.block), {
          endStream: end && !hasBody,
          fragments: 1,
          unterminated: false,
        });
        if (op.body) this.data(id, encodeBody(op.body), { endStream: end, frames: op.bodyFrames });
        if (op.finish === "reset" || op.finish === "end-then-reset") {
          this.frame(FrameType.RST_STREAM, 0, id, u32(op.resetCode));
        }
        return;
      }
      case "continuation":
        this.frame(
          FrameType.CONTINUATION,
          op.endHeaders ? Flag.END_HEADERS : 0,
          this.resolve(op.stream),
          op.bytes,
        );
        return;
      case "rst": {
        const payload = op.badLength ? u32(op.code).subarray(0, 3) : u32(op.code);
        this.frame(FrameType.RST_STREAM, 0, this.resolve(op.stream), payload);
        return;
      }
      case "window": {
        const id = op.stream.kind === "raw" ? op.stream.id : this.resolve(op.stream);
        for (let i = 0; i < op.times; i++) this.frame(FrameType.WINDOW_UPDATE, 0, id, u32(op.increment));
        return;
      }
      case "settings":
        this.frame(FrameType.SETTINGS, op.ack ? Flag.ACK : 0, op.stream, settingsPayload(op.entries));
        return;
      case "ping":
        this.frame(FrameType.PING, op.ack ? Flag.ACK : 0, 0, op.payload);
        return;
      case "priority": {
        const id = this.resolve(op.stream);
        const dependsOn = op.dependsOn === "self" ? id : this.resolve(op.dependsOn);
        const payload = priorityBlock(dependsOn, op.weight, op.exclusive);
        this.frame(FrameType.PRIORITY, 0, id, op.badLength ? payload.subarray(0, 4) : payload);
        return;
      }
      case "goaway":
        this.frame(FrameType.GOAWAY, 0, 0, goawayPayload(op.lastStreamId, op.code, op.debug));
        return;
      case "unknown":
        this.frame(op.type, op.flags, this.resolve(op.stream), op.payload);
        return;
      case "bytes":
        this.out.push(Buffer.from(op.bytes));
        return;
      case "burst":
        for (let i = 0; i < op.times; i++) for (const p of op.pattern) this.op(p);
        return;
    }
  }
}

export function encodeH2(seq: H2Sequence): Encoded {
  const enc = new H2Encoder();
  switch (seq.preface) {
    case "valid":
      enc.out.push(PREFACE);
      break;
    case "partial":
      enc.out.push(PREFACE.subarray(0, 14));
      break;
    case "garbage":
      enc.out.push(Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", "latin1"));
      break;
    case "none":
      break;
  }
  if (seq.settings) enc.op({ op: "settings", ack: false, entries: seq.settings, stream: 0 });
  for (const op of seq.ops) enc.op(op);
  return { bytes: Buffer.concat(enc.out), frames: enc.frames };
}

function http1Body(body: Http1Body): { headers: string; bytes: Buffer } {
  switch (body.kind) {
    case "none":
      return { headers: "", bytes: Buffer.alloc(0) };
    case "fixed": {
      const length = body.bytes.length + body.lengthDelta;
      return {
        headers: body.omitLength ? "" : `Content-Length: ${length}\r\n`,
        bytes: Buffer.from(body.bytes),
      };
    }
    case "chunked": {
      const parts: Buffer[] = [];
      for (const chunk of body.chunks) {
        const size = body.badSize ? `${chunk.length.toString(16)}zz` : chunk.length.toString(16);
        parts.push(Buffer.from(`${size}\r\n`, "latin1"), Buffer.from(chunk), Buffer.from("\r\n"));
      }
      if (body.terminated) parts.push(Buffer.from("0\r\n\r\n"));
      return { headers: "Transfer-Encoding: chunked\r\n", bytes: Buffer.concat(parts) };
    }
  }
}

export function encodeHttp1Request(req: Http1Request): Buffer {
  if (req.kind === "raw") return Buffer.from(req.bytes);
  const body = http1Body(req.body);
  const head =
    `${req.method} ${req.target} ${req.version}\r\n` +
    req.headers.map(([n, v]) => `${n}: ${v}\r\n`).join("") +
    body.headers +
    "\r\n";
  return Buffer.concat([Buffer.from(head, "latin1"), body.bytes]);
}

export function encodeHttp1(seq: Http1Sequence): Encoded {
  return { bytes: Buffer.concat(seq.requests.map(encodeHttp1Request)), frames: seq.requests.length };
}

export function encodeSequence(seq: Sequence): Encoded {
  return seq.proto === "h2" ? encodeH2(seq) : encodeHttp1(seq);
}

/** The socket writes of a sequence: its bytes cut where the plan says, each piece with its pause. */
export function chunks(bytes: Buffer, plan: WritePlan): Chunk[] {
  const cuts = [...plan.cuts]
    .map((c) => ({
      at: Math.floor((Math.min(10_000, Math.max(0, c.at)) * bytes.length) / 10_000),
      delayMs: c.delayMs,
    }))
    .sort((a, b) => a.at - b.at);
  const out: Chunk[] = [];
  let from = 0;
  for (const cut of cuts) {
    if (cut.at <= from) continue;
    out.push({ bytes: bytes.subarray(from, cut.at), delayMs: cut.delayMs });
    from = cut.at;
  }
  out.push({ bytes: bytes.subarray(from), delayMs: 0 });
  return out;
}
