import { Code } from "@connectrpc/connect";
import { codeFromString } from "@connectrpc/connect/protocol-connect";

/** How a protocol frames messages in a request or response body. */
export type Framing = "grpc" | "grpc-web" | "connect-stream" | "connect-unary";

/** The framing of a body with this content type. */
export function framingOf(contentType: string | undefined): Framing {
  const ct = contentType ?? "";
  if (ct.startsWith("application/grpc-web")) return "grpc-web";
  if (ct.startsWith("application/grpc")) return "grpc";
  if (ct.startsWith("application/connect+")) return "connect-stream";
  return "connect-unary";
}

/** Envelope flags of frames that carry no message: gRPC-Web trailers (0x80), Connect end-stream (0x02). */
const END_FLAGS: Readonly<Record<Framing, number>> = {
  grpc: 0,
  "grpc-web": 0x80,
  "connect-stream": 0x02,
  "connect-unary": 0,
};

/**
 * Counts the message bytes of a body as it streams by (gRFC A66's
 * "compressed message size": envelope payloads, without the 5-byte
 * prefixes and without trailer / end-stream frames, which it keeps to read
 * the status from). An unenveloped body (Connect unary) is all message.
 */
export class MessageCounter {
  /** Message bytes so far. */
  messageBytes = 0;
  /** The trailer or end-stream frame's payload, or an unenveloped error body. */
  readonly kept: Uint8Array[] = [];
  private readonly header = new Uint8Array(5);
  private headerFill = 0;
  private remaining = 0;
  private inEndFrame = false;
  private readonly enveloped: boolean;
  private readonly endFlag: number;

  /**
   * @param framing - the body's framing.
   * @param keepAll - keep an unenveloped body (a Connect unary error's JSON).
   */
  constructor(
    framing: Framing,
    private readonly keepAll = false,
  ) {
    this.enveloped = framing !== "connect-unary";
    this.endFlag = END_FLAGS[framing];
  }

  /** Counts a chunk. */
  push(chunk: Uint8Array): void {
    if (!this.enveloped) {
      this.messageBytes += chunk.byteLength;
      if (this.keepAll) this.kept.push(chunk);
      return;
    }
    let i = 0;
    while (i < chunk.byteLength) {
      if (this.remaining === 0) {
        const take = Math.min(5 - this.headerFill, chunk.byteLength - i);
        this.header.set(chunk.subarray(i, i + take), this.headerFill);
        this.headerFill += take;
        i += take;
        if (this.headerFill < 5) continue;
        this.headerFill = 0;
        this.inEndFrame = this.endFlag !== 0 && (this.header[0]! & this.endFlag) !== 0;
        this.remaining = new DataView(this.header.buffer).getUint32(1);
        continue;
      }
      const take = Math.min(this.remaining, chunk.byteLength - i);
      if (this.inEndFrame) this.kept.push(chunk.slice(i, i + take));
      else this.messageBytes += take;
      this.remaining -= take;
      i += take;
    }
  }

  /** The kept bytes as text. */
  keptText(): string {
    return Buffer.concat(this.kept).toString("utf8");
  }
}

/**
 * The status code of a response, read from what each protocol sends:
 * gRPC `grpc-status` (trailers, or headers when trailers-only), gRPC-Web
 * the trailer frame, Connect streaming the end-stream JSON, Connect unary
 * the HTTP status and error JSON. Undefined when the response says nothing.
 */
export function responseCode(
  framing: Framing,
  httpStatus: number,
  header: Headers,
  trailer: Headers | undefined,
  body: MessageCounter,
): number | undefined {
  const fromText = (v: string | null | undefined) =>
    v === null || v === undefined || v === "" ? undefined : Number(v);
  switch (framing) {
    case "grpc":
      return fromText(trailer?.get("grpc-status")) ?? fromText(header.get("grpc-status"));
    case "grpc-web": {
      const m = /^grpc-status:\s*(\d+)/im.exec(body.keptText());
      return m ? Number(m[1]) : fromText(header.get("grpc-status"));
    }
    case "connect-stream": {
      if (body.kept.length === 0) return undefined;
      const end = parseJson(body.keptText()) as { error?: { code?: string } } | undefined;
      return end?.error ? errorCode(end.error.code) : 0;
    }
    case "connect-unary": {
      if (httpStatus === 200) return 0;
      return errorCode((parseJson(body.keptText()) as { code?: string } | undefined)?.code);
    }
  }
}

function errorCode(text: string | undefined): number {
  return (text && codeFromString(text)) || Code.Unknown;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
