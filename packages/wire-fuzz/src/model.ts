/**
 * What the fuzzer generates: plain data (no Buffers built yet), so that
 * fast-check can shrink it and print a counterexample that reads as a
 * list of frames. `encode.ts` turns it into bytes.
 */
import type { FieldEncoding } from "./hpack.js";

/**
 * A stream id, resolved while encoding: "new" is the client's next stream
 * (1, 3, 5, …), "last" the stream opened most recently, "back" one opened
 * `n` streams before that (a reused id when HEADERS names it), "raw" an id
 * as written (0, even, decreasing, the reserved bit set, …).
 */
export type StreamRef =
  | { readonly kind: "new" }
  | { readonly kind: "last" }
  | { readonly kind: "back"; readonly n: number }
  | { readonly kind: "raw"; readonly id: number };

/** How a request's header list is broken, if at all. */
export type Mangle =
  | "pseudo-after-regular"
  | "drop-method"
  | "drop-path"
  | "drop-scheme"
  | "dup-path"
  | "uppercase-pseudo"
  | "unknown-pseudo"
  | "status-in-request";

/**
 * A request's header list, as a recipe (short to print, and shrinks field
 * by field): :method, :scheme http, :path, :authority (null: left out),
 * then content-type, te: trailers, the metadata, and `many` more fields
 * (x-many-0 … x-many-6), the whole possibly mangled.
 */
export interface RequestHeaders {
  readonly kind: "request";
  readonly method: string;
  readonly path: string;
  readonly authority: string | null;
  readonly contentType: string | null;
  readonly te: boolean;
  readonly metadata: readonly (readonly [string, string])[];
  readonly many: number | null;
  readonly mangle: Mangle | null;
  readonly encoding: FieldEncoding;
}

/** A header block: a request to HPACK-encode, fields as they are, or raw bytes for the peer's HPACK decoder. */
export type HeaderBlock =
  | RequestHeaders
  | {
      readonly kind: "fields";
      readonly fields: readonly (readonly [string, string])[];
      readonly encoding: FieldEncoding;
    }
  | { readonly kind: "raw"; readonly bytes: Uint8Array };

/** One gRPC (or gRPC-Web, Connect streaming) envelope; `length` overrides the real length (a lie). */
export interface Envelope {
  readonly message: Uint8Array;
  readonly compressed: boolean;
  readonly length?: number;
}

/** A request body: envelopes, or bytes as they are (protobuf, JSON, gzip, garbage). */
export type Body =
  | { readonly kind: "envelopes"; readonly envelopes: readonly Envelope[] }
  | { readonly kind: "bytes"; readonly bytes: Uint8Array };

export interface HeadersOp {
  readonly op: "headers";
  readonly stream: StreamRef;
  readonly block: HeaderBlock;
  readonly endStream: boolean;
  /** The block over this many frames (HEADERS then CONTINUATIONs); at least enough for 16 KiB frames. */
  readonly fragments: number;
  /** Leave END_HEADERS off the last fragment: the header block never ends. */
  readonly unterminated: boolean;
  readonly padding?: number;
  readonly priority?: {
    readonly dependsOn: StreamRef | "self";
    readonly weight: number;
    readonly exclusive: boolean;
  };
}

export interface DataOp {
  readonly op: "data";
  readonly stream: StreamRef;
  readonly body: Body;
  readonly endStream: boolean;
  /** The body over this many DATA frames. */
  readonly frames: number;
  readonly padding?: number;
  /** Added to the last frame's length field (a lie, when not 0). */
  readonly lengthDelta: number;
}

/** A whole call on a new stream: HEADERS, its body in DATA frames, then end, leave open, or reset. */
export interface CallOp {
  readonly op: "call";
  readonly block: HeaderBlock;
  readonly body?: Body;
  readonly bodyFrames: number;
  readonly finish: "end" | "open" | "reset" | "end-then-reset";
  readonly resetCode: number;
}

export type H2Op =
  | HeadersOp
  | DataOp
  | CallOp
  | {
      readonly op: "continuation";
      readonly stream: StreamRef;
      readonly bytes: Uint8Array;
      readonly endHeaders: boolean;
    }
  | { readonly op: "rst"; readonly stream: StreamRef; readonly code: number; readonly badLength: boolean }
  | { readonly op: "window"; readonly stream: StreamRef; readonly increment: number; readonly times: number }
  | {
      readonly op: "settings";
      readonly ack: boolean;
      readonly entries: readonly (readonly [number, number])[];
      readonly stream: number;
    }
  | { readonly op: "ping"; readonly ack: boolean; readonly payload: Uint8Array }
  | {
      readonly op: "priority";
      readonly stream: StreamRef;
      readonly dependsOn: StreamRef | "self";
      readonly weight: number;
      readonly exclusive: boolean;
      readonly badLength: boolean;
    }
  | {
      readonly op: "goaway";
      readonly lastStreamId: number;
      readonly code: number;
      readonly debug: Uint8Array;
    }
  | {
      readonly op: "unknown";
      readonly type: number;
      readonly flags: number;
      readonly stream: StreamRef;
      readonly payload: Uint8Array;
    }
  | { readonly op: "bytes"; readonly bytes: Uint8Array }
  /** A small pattern repeated: a flood (rapid reset, pings, settings, streams never ended, …). */
  | { readonly op: "burst"; readonly pattern: readonly H2Op[]; readonly times: number };

/**
 * How a sequence's bytes go out: cut at these points (per ten thousand of
 * the total length), a pause after each piece, a wait for the server's
 * answers, then a FIN ("end") or an abrupt close ("destroy").
 */
export interface WritePlan {
  readonly cuts: readonly { readonly at: number; readonly delayMs: number }[];
  readonly lingerMs: number;
  readonly close: "end" | "destroy";
}

/** One HTTP/2 connection. */
export interface H2Sequence {
  readonly proto: "h2";
  readonly preface: "valid" | "none" | "partial" | "garbage";
  /** The client's first SETTINGS frame (null: none sent). */
  readonly settings: readonly (readonly [number, number])[] | null;
  readonly ops: readonly H2Op[];
  readonly write: WritePlan;
}

export type Http1Body =
  | { readonly kind: "none" }
  /** A body with Content-Length (off by `lengthDelta`, or left out). */
  | {
      readonly kind: "fixed";
      readonly bytes: Uint8Array;
      readonly lengthDelta: number;
      readonly omitLength: boolean;
    }
  /** Transfer-Encoding: chunked, with a bad size line or no last chunk when asked. */
  | {
      readonly kind: "chunked";
      readonly chunks: readonly Uint8Array[];
      readonly badSize: boolean;
      readonly terminated: boolean;
    };

export type Http1Request =
  | {
      readonly kind: "request";
      readonly method: string;
      readonly target: string;
      readonly version: string;
      readonly headers: readonly (readonly [string, string])[];
      readonly body: Http1Body;
    }
  | { readonly kind: "raw"; readonly bytes: Uint8Array };

/** One HTTP/1.1 connection: requests back to back (pipelined). */
export interface Http1Sequence {
  readonly proto: "http1";
  readonly requests: readonly Http1Request[];
  readonly write: WritePlan;
}

export type Sequence = H2Sequence | Http1Sequence;

/** What one property run sends: sequences on fresh sockets, `parallel` at a time. */
export interface Batch {
  readonly sequences: readonly Sequence[];
  readonly parallel: number;
}
