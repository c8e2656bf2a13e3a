/**
 * fast-check arbitraries of what a client can put on the wire to
 * rng-server: HTTP/2 frame sequences (mostly well-formed calls, with
 * malformed frames, hostile values and floods mixed in) and HTTP/1.1
 * requests (Connect, gRPC-Web, and broken ones). Everything is drawn from
 * fast-check's seeded generator, so one seed gives the same bytes, and
 * fast-check can shrink any of it.
 *
 * Weights favour requests that get past nghttp2 and llhttp into the
 * server's own code (pseudo-headers first, an :authority, a real
 * content type), because that is where an application bug hides; the
 * malformed cases stay frequent enough to be drawn in every batch or so.
 */
import { gzipSync } from "node:zlib";
import fc, { type Arbitrary } from "fast-check";
import {
  generateRequest,
  generateStreamRequest,
  gzipBomb,
  healthCheckRequest,
  labelled,
  nestedJson,
  REAL_METHODS,
  reflectionRequest,
  UNKNOWN_METHODS,
} from "./bodies.js";
import { Setting } from "./frames.js";
import type {
  Batch,
  Body,
  CallOp,
  DataOp,
  Envelope,
  H2Op,
  H2Sequence,
  HeaderBlock,
  HeadersOp,
  Http1Body,
  Http1Request,
  Http1Sequence,
  Mangle,
  RequestHeaders,
  Sequence,
  StreamRef,
  WritePlan,
} from "./model.js";

type Field = readonly [string, string];

/** Values that break 32-bit fields: zero, the 31-bit maximum, the reserved bit, all ones, frame sizes. */
export const u32Arb: Arbitrary<number> = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 65_535, 65_536, 16_384, 16_777_215, 16_777_216),
  fc.integer({ min: 0, max: 0xffffffff }),
);

export const CONTENT_TYPES = [
  "application/grpc",
  "application/grpc+proto",
  "application/grpc+json",
  "application/grpc-web",
  "application/grpc-web+proto",
  "application/grpc-web+json",
  "application/grpc-web-text",
  "application/grpc-web-text+proto",
  "application/connect+proto",
  "application/connect+json",
  "application/proto",
  "application/json",
  "application/json; charset=utf-8",
  "application/grpc+junk",
  "text/plain",
  "",
  'application/grpc;x="\\"',
] as const;

/** A :path: a served method, an unknown one, or garbage (no leading slash, control bytes, 20 KB). */
export const pathArb: Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...REAL_METHODS) },
  { weight: 4, arbitrary: fc.constantFrom(...UNKNOWN_METHODS) },
  { weight: 1, arbitrary: fc.string({ unit: "binary-ascii", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => `/${"a".repeat(n)}`) },
);

export const contentTypeArb: Arbitrary<string> = fc.constantFrom(...CONTENT_TYPES);

/** Request metadata: timeouts (up to 99999999H), encodings, te, Connect headers, -bin headers, long values. */
export function metadataFieldArb(small = false): Arbitrary<Field> {
  const field = (name: Arbitrary<string>, value: Arbitrary<string>) =>
    fc.tuple(name, value) as Arbitrary<Field>;
  return fc.oneof(
    field(
      fc.constant("grpc-timeout"),
      fc.constantFrom(
        "1S",
        "100m",
        "250m",
        "5n",
        "1u",
        "99999999H",
        "99999999S",
        "0S",
        "abc",
        "-1S",
        "1x",
        "",
      ),
    ),
    field(fc.constant("grpc-encoding"), fc.constantFrom("gzip", "identity", "br", "deflate", "junk", "")),
    field(fc.constant("grpc-accept-encoding"), fc.constantFrom("gzip", "identity,gzip,br", "junk", "")),
    field(fc.constant("te"), fc.constantFrom("trailers", "junk", "trailers, deflate")),
    field(fc.constant("connect-protocol-version"), fc.constantFrom("1", "2", "x", "")),
    field(fc.constant("connect-timeout-ms"), fc.constantFrom("100", "0", "99999999999", "-1", "x")),
    field(
      fc.constantFrom("content-encoding", "connect-content-encoding", "connect-accept-encoding"),
      fc.constantFrom("gzip", "br", "identity", "junk"),
    ),
    field(
      fc.constantFrom("x-trace-bin", "grpc-status-details-bin", "x-b-bin"),
      fc.oneof(
        fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString("base64")),
        fc.constantFrom("!!!", "====", "a", "YQ"),
      ),
    ),
    field(fc.stringMatching(/^x-[a-z0-9-]{1,12}$/), fc.string({ unit: "grapheme-ascii", maxLength: 24 })),
    ...(small
      ? []
      : [
          field(
            fc.constant("x-long"),
            fc.integer({ min: 1, max: 20_000 }).map((n) => "v".repeat(n)),
          ),
          field(
            fc.constantFrom(
              "X-Upper",
              "bad name",
              "connection",
              "host",
              ":weird",
              "keep-alive",
              "transfer-encoding",
            ),
            fc.constantFrom("1", "close", "127.0.0.1", "chunked"),
          ),
          field(
            fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/),
            fc.string({ unit: "binary-ascii", maxLength: 32 }),
          ),
        ]),
  );
}

const MANGLES: readonly Mangle[] = [
  "pseudo-after-regular",
  "drop-method",
  "drop-path",
  "drop-scheme",
  "dup-path",
  "uppercase-pseudo",
  "unknown-pseudo",
  "status-in-request",
];

/**
 * A request's headers ({@link RequestHeaders}): :method, :scheme, :path,
 * :authority, then content-type, te and metadata (up to a few hundred
 * fields when "many"), sometimes mangled (pseudo-headers out of order,
 * missing, doubled, …). `small` keeps it to a few short fields (for bursts).
 */
export function requestHeadersArb(small = false): Arbitrary<RequestHeaders> {
  return fc.record({
    kind: fc.constant("request" as const),
    method: fc.oneof(
      { weight: 9, arbitrary: fc.constant("POST") },
      { weight: 1, arbitrary: fc.constantFrom("GET", "PUT", "OPTIONS", "HEAD", "CONNECT", "junk") },
    ),
    path: small ? fc.constantFrom<string>(...REAL_METHODS, ...UNKNOWN_METHODS) : pathArb,
    authority: fc.oneof(
      { weight: 12, arbitrary: fc.constant<string | null>("127.0.0.1") },
      { weight: 1, arbitrary: fc.constantFrom<string | null>(null, "", "x".repeat(300)) },
    ),
    contentType: fc.option(contentTypeArb, { freq: 10, nil: null }),
    te: fc.boolean(),
    metadata: fc.array(metadataFieldArb(small), { maxLength: small ? 2 : 6 }),
    many: small ? fc.constant(null) : fc.option(fc.integer({ min: 20, max: 300 }), { freq: 12, nil: null }),
    mangle: fc.oneof(
      { weight: 12, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.constantFrom(...MANGLES) },
    ),
    encoding: fc.constantFrom("auto" as const, "literal" as const),
  });
}

/** A header block: mostly a request's headers, sometimes raw bytes for the HPACK decoder. */
export function headerBlockArb(small = false): Arbitrary<HeaderBlock> {
  return fc.oneof(
    { weight: 14, arbitrary: requestHeadersArb(small) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("raw" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
    },
  );
}

/** A protobuf request message of one of the served methods, or random bytes. */
export const protoMessageArb: Arbitrary<Uint8Array> = fc.oneof(
  fc.constant(new Uint8Array(0)),
  fc.oneof(fc.integer({ min: 0, max: 50 }), fc.constantFrom(60_000, 60_001, 0xffffffff)).map(generateRequest),
  fc
    .tuple(
      fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(1000, 1001, 0xffffffff)),
      fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(60_000)),
    )
    .map(([count, interval]) => generateStreamRequest(count, interval)),
  fc.constantFrom("", "rng.v1.RngService", "nope").map(healthCheckRequest),
  fc
    .tuple(fc.boolean(), fc.constantFrom("rng.v1.RngService", "nope", ""))
    .map(([list, symbol]) => reflectionRequest(list, symbol)),
  fc.uint8Array({ maxLength: 64 }),
);

/** A JSON request message, broken JSON, deeply nested JSON (up to 100,000 levels), or any JSON. */
export const jsonMessageArb: Arbitrary<Uint8Array> = fc
  .oneof(
    fc.constantFrom(
      "{}",
      '{"delayMs":1}',
      '{"count":2,"intervalMs":1}',
      '{"service":""}',
      '{"listServices":"*"}',
      "null",
      "{",
      '{"delayMs":"x"}',
      '{"delayMs":-1}',
      '{"count":1e400}',
    ),
    fc
      .tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom("array" as const, "object" as const))
      .map(([depth, kind]) =>
        labelled(new Uint8Array(Buffer.from(nestedJson(depth, kind))), `nestedJson(${depth}, "${kind}")`),
      ),
    fc.json({ maxDepth: 3 }).map((s) => new Uint8Array(Buffer.from(s))),
  )
  .map((s) => (typeof s === "string" ? new Uint8Array(Buffer.from(s)) : s));

/** gzip bodies: a valid message gzipped, random bytes (not gzip), a 16 MiB bomb. */
export const gzipBodyArb: Arbitrary<Uint8Array> = fc.oneof(
  protoMessageArb.map((m) => new Uint8Array(gzipSync(m))),
  fc.uint8Array({ minLength: 1, maxLength: 64 }),
  fc.constant(null).map(() => labelled(new Uint8Array(gzipBomb()), "gzipBomb()")),
);

export const messageArb: Arbitrary<Uint8Array> = fc.oneof(
  { weight: 5, arbitrary: protoMessageArb },
  { weight: 2, arbitrary: jsonMessageArb },
  { weight: 1, arbitrary: gzipBodyArb },
);

/** A gRPC envelope: flags (compressed or not), a true length or a lie (up to 2^32 - 1). */
export const envelopeArb: Arbitrary<Envelope> = fc.record(
  {
    message: messageArb,
    compressed: fc.oneof(
      { weight: 5, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    length: fc.oneof(
      fc.integer({ min: 0, max: 100 }),
      fc.constantFrom(0xffffffff, 0x7fffffff, 4 * 1024 * 1024 + 1),
    ),
  },
  { requiredKeys: ["message", "compressed"] },
);

export const bodyArb: Arbitrary<Body> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("envelopes" as const),
      envelopes: fc.array(envelopeArb, { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("bytes" as const), bytes: messageArb }) },
);

/** Small bodies only: for the patterns of a burst. */
const smallBodyArb: Arbitrary<Body> = fc.record({
  kind: fc.constant("envelopes" as const),
  envelopes: fc.array(
    fc.record({ message: protoMessageArb, compressed: fc.constant(false) }) as Arbitrary<Envelope>,
    { minLength: 1, maxLength: 1 },
  ),
});

/** A stream: mostly the last opened, sometimes a new, older, or raw id (0, even, 2^31 - 1, reserved bit). */
export const streamRefArb: Arbitrary<StreamRef> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "last" as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: "new" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("back" as const), n: fc.integer({ min: 0, max: 5 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      id: fc.oneof(fc.constantFrom(0, 1, 2, 4, 0x7fffffff, 0x80000001), fc.integer({ min: 0, max: 100 })),
    }),
  },
);

const RST_CODES = [8, 0, 1, 2, 7, 0xb, 0xffffffff] as const;
const rareTrue = fc.oneof(
  { weight: 9, arbitrary: fc.constant(false) },
  { weight: 1, arbitrary: fc.constant(true) },
);

export function callOpArb(small = false): Arbitrary<CallOp> {
  return fc.record(
    {
      op: fc.constant("call" as const),
      block: headerBlockArb(small),
      body: small ? smallBodyArb : bodyArb,
      bodyFrames: fc.integer({ min: 1, max: 3 }),
      finish: fc.oneof(
        { weight: 4, arbitrary: fc.constant("end" as const) },
        { weight: 3, arbitrary: fc.constant("reset" as const) },
        { weight: 2, arbitrary: fc.constant("open" as const) },
        { weight: 1, arbitrary: fc.constant("end-then-reset" as const) },
      ),
      resetCode: fc.constantFrom(...RST_CODES),
    },
    { requiredKeys: ["op", "block", "bodyFrames", "finish", "resetCode"] },
  );
}

export function headersOpArb(small = false): Arbitrary<HeadersOp> {
  return fc.record(
    {
      op: fc.constant("headers" as const),
      stream: fc.oneof({ weight: 6, arbitrary: fc.constant({ kind: "new" as const }) }, streamRefArb),
      block: headerBlockArb(small),
      endStream: fc.boolean(),
      fragments: fc.oneof({ weight: 6, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 4 })),
      unterminated: rareTrue,
      padding: fc.integer({ min: 0, max: 255 }),
      priority: fc.record({
        dependsOn: fc.oneof(fc.constant("self" as const), streamRefArb),
        weight: fc.integer({ min: 0, max: 255 }),
        exclusive: fc.boolean(),
      }),
    },
    { requiredKeys: ["op", "stream", "block", "endStream", "fragments", "unterminated"] },
  );
}

export function dataOpArb(small = false): Arbitrary<DataOp> {
  return fc.record(
    {
      op: fc.constant("data" as const),
      stream: streamRefArb,
      body: small ? smallBodyArb : bodyArb,
      endStream: fc.boolean(),
      frames: fc.integer({ min: 1, max: 3 }),
      padding: fc.integer({ min: 0, max: 255 }),
      lengthDelta: fc.oneof(
        { weight: 8, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -8, max: 8 }) },
        { weight: 1, arbitrary: fc.constantFrom(16_384, 0xffffff) },
      ),
    },
    { requiredKeys: ["op", "stream", "body", "endStream", "frames", "lengthDelta"] },
  );
}

export const rstOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("rst" as const),
  stream: streamRefArb,
  code: fc.constantFrom(...RST_CODES),
  badLength: rareTrue,
});

export const windowOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("window" as const),
  stream: fc.oneof(fc.constant({ kind: "raw" as const, id: 0 }), streamRefArb),
  increment: fc.oneof(
    fc.constantFrom(0, 1, 65_535, 0x7fffffff, 0x80000000),
    fc.integer({ min: 1, max: 1 << 20 }),
  ),
  times: fc.constantFrom(1, 2),
});

export const settingEntryArb: Arbitrary<readonly [number, number]> = fc.tuple(
  fc.constantFrom(
    Setting.INITIAL_WINDOW_SIZE,
    Setting.MAX_FRAME_SIZE,
    Setting.HEADER_TABLE_SIZE,
    Setting.ENABLE_PUSH,
    Setting.MAX_CONCURRENT_STREAMS,
    Setting.MAX_HEADER_LIST_SIZE,
    0,
    7,
    8,
    0xffff,
  ),
  u32Arb,
);

export const settingsOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("settings" as const),
  ack: fc.boolean(),
  entries: fc.array(settingEntryArb, { maxLength: 4 }),
  stream: fc.oneof({ weight: 9, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
});

export const pingOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("ping" as const),
  ack: fc.boolean(),
  payload: fc.oneof(
    { weight: 9, arbitrary: fc.uint8Array({ minLength: 8, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 16 }) },
  ),
});

export const priorityOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("priority" as const),
  stream: streamRefArb,
  dependsOn: fc.oneof(fc.constant("self" as const), streamRefArb),
  weight: fc.integer({ min: 0, max: 255 }),
  exclusive: fc.boolean(),
  badLength: rareTrue,
});

export const goawayOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("goaway" as const),
  lastStreamId: fc.oneof(fc.constantFrom(0, 1, 0x7fffffff), fc.integer({ min: 0, max: 100 })),
  code: fc.constantFrom(0, 1, 2, 0xb, 0xffffffff),
  debug: fc.uint8Array({ maxLength: 32 }),
});

export const unknownOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("unknown" as const),
  type: fc.oneof(fc.constantFrom(0x5, 0xa, 0xb, 0x10, 0xff), fc.integer({ min: 0xa, max: 0xff })),
  flags: fc.integer({ min: 0, max: 0xff }),
  stream: streamRefArb,
  payload: fc.uint8Array({ maxLength: 32 }),
});

export const continuationOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("continuation" as const),
  stream: streamRefArb,
  bytes: fc.oneof(
    fc.uint8Array({ maxLength: 32 }),
    headerBlockArb(true).map((b) => (b.kind === "raw" ? b.bytes : new Uint8Array(0))),
  ),
  endHeaders: fc.boolean(),
});

export const bytesOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("bytes" as const),
  bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
});

/** One op of a burst's pattern: small frames only, so that 2,000 repeats stay under a few hundred KB. */
const smallOpArb: Arbitrary<H2Op> = fc.oneof(
  { weight: 3, arbitrary: headersOpArb(true) },
  { weight: 3, arbitrary: callOpArb(true) },
  { weight: 2, arbitrary: rstOpArb },
  { weight: 1, arbitrary: dataOpArb(true) },
  { weight: 1, arbitrary: pingOpArb },
  { weight: 1, arbitrary: settingsOpArb },
  { weight: 1, arbitrary: windowOpArb },
  { weight: 1, arbitrary: priorityOpArb },
);

/**
 * A flood: a pattern of one to three small frames, repeated 100 to 2,000
 * times. Named floods (rapid reset: HEADERS + RST_STREAM; pings;
 * settings; streams opened and never ended) come as often as a random
 * pattern.
 */
export const burstOpArb: Arbitrary<H2Op> = fc.record({
  op: fc.constant("burst" as const),
  pattern: fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(
        headersOpArb(true).map((h): H2Op => ({ ...h, stream: { kind: "new" }, unterminated: false })),
        fc
          .constantFrom(...RST_CODES)
          .map((code): H2Op => ({ op: "rst", stream: { kind: "last" }, code, badLength: false })),
      ),
    },
    { weight: 1, arbitrary: fc.tuple(pingOpArb) },
    { weight: 1, arbitrary: fc.tuple(settingsOpArb) },
    {
      weight: 1,
      arbitrary: fc.tuple(
        headersOpArb(true).map(
          (h): H2Op => ({ ...h, stream: { kind: "new" }, endStream: false, unterminated: false }),
        ),
      ),
    },
    { weight: 3, arbitrary: fc.array(smallOpArb, { minLength: 1, maxLength: 3 }) },
  ),
  times: fc.integer({ min: 100, max: 2000 }),
});

export const h2OpArb: Arbitrary<H2Op> = fc.oneof(
  { weight: 8, arbitrary: callOpArb() },
  { weight: 3, arbitrary: headersOpArb() },
  { weight: 3, arbitrary: dataOpArb() },
  { weight: 3, arbitrary: rstOpArb },
  { weight: 2, arbitrary: windowOpArb },
  { weight: 2, arbitrary: settingsOpArb },
  { weight: 2, arbitrary: pingOpArb },
  { weight: 1, arbitrary: priorityOpArb },
  { weight: 1, arbitrary: goawayOpArb },
  { weight: 1, arbitrary: unknownOpArb },
  { weight: 1, arbitrary: continuationOpArb },
  { weight: 1, arbitrary: bytesOpArb },
  { weight: 2, arbitrary: burstOpArb },
);

/** Writes cut at up to 4 points with pauses of up to 30 ms; then a wait for answers and a FIN or a reset. */
export const writePlanArb: Arbitrary<WritePlan> = fc.record({
  cuts: fc.array(
    fc.record({
      at: fc.integer({ min: 0, max: 10_000 }),
      delayMs: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 30 })),
    }),
    { maxLength: 4 },
  ),
  lingerMs: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 50 }) },
    fc.integer({ min: 50, max: 300 }),
  ),
  close: fc.constantFrom("destroy" as const, "end" as const),
});

export const h2SequenceArb: Arbitrary<H2Sequence> = fc.record({
  proto: fc.constant("h2" as const),
  preface: fc.oneof(
    { weight: 24, arbitrary: fc.constant("valid" as const) },
    { weight: 1, arbitrary: fc.constantFrom("none" as const, "partial" as const, "garbage" as const) },
  ),
  settings: fc.oneof(
    { weight: 6, arbitrary: fc.constant([]) },
    { weight: 2, arbitrary: fc.array(settingEntryArb, { maxLength: 4 }) },
    { weight: 1, arbitrary: fc.constant(null) },
  ),
  ops: fc.array(h2OpArb, { maxLength: 10 }),
  write: writePlanArb,
});

/** A Connect GET target: ?connect=v1&encoding=…&base64=1&message=…&compression=…. */
export const connectGetTargetArb: Arbitrary<string> = fc
  .record({
    path: fc.constantFrom(...REAL_METHODS, ...UNKNOWN_METHODS),
    encoding: fc.constantFrom("proto", "json", "junk"),
    message: messageArb,
    base64: fc.boolean(),
    connect: fc.boolean(),
    compression: fc.option(fc.constantFrom("gzip", "identity", "br", "junk"), { nil: null }),
  })
  .map((r) => {
    const q = new URLSearchParams();
    if (r.connect) q.set("connect", "v1");
    q.set("encoding", r.encoding);
    if (r.base64) q.set("base64", "1");
    q.set(
      "message",
      r.base64 ? Buffer.from(r.message).toString("base64url") : Buffer.from(r.message).toString("latin1"),
    );
    if (r.compression !== null) q.set("compression", r.compression);
    return `${r.path}?${q.toString()}`;
  });

const h1HeaderArb: Arbitrary<Field> = fc.oneof(
  { weight: 6, arbitrary: metadataFieldArb(true) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Field>(
      ["Bad Header", "x"],
      ["X-Folded", "a\r\n b"],
      ["", "novalue"],
      ["X-Ctl", "a\u0000b"],
      ["Content-Length", "abc"],
      ["Content-Length", "5"],
      ["Transfer-Encoding", "chunked"],
      ["Expect", "100-continue"],
      ["Connection", "Upgrade, HTTP2-Settings"],
      ["Upgrade", "h2c"],
      ["HTTP2-Settings", "AAMAAABkAAQAAP__"],
      ["X-Grpc-Web", "1"],
      ["Connection", "close"],
    ),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1000, max: 70_000 }).map((n): Field => ["X-Long", "v".repeat(n)]),
  },
);

export const http1BodyArb: Arbitrary<Http1Body> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("fixed" as const),
      bytes: fc.oneof(
        { weight: 3, arbitrary: messageArb },
        {
          weight: 2,
          arbitrary: envelopeArb.map((e) => new Uint8Array(Buffer.concat([envelopeHead(e), e.message]))),
        },
      ),
      lengthDelta: fc.oneof(
        { weight: 8, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) },
        { weight: 1, arbitrary: fc.constant(1_000_000_000) },
      ),
      omitLength: rareTrue,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("chunked" as const),
      chunks: fc.array(messageArb, { maxLength: 3 }),
      badSize: rareTrue,
      terminated: fc.oneof(
        { weight: 5, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
    }),
  },
);

function envelopeHead(e: Envelope): Buffer {
  const b = Buffer.alloc(5);
  b[0] = e.compressed ? 1 : 0;
  b.writeUInt32BE((e.length ?? e.message.length) >>> 0, 1);
  return b;
}

export const http1RequestArb: Arbitrary<Http1Request> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant("request" as const),
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant("POST") },
        { weight: 2, arbitrary: fc.constant("GET") },
        { weight: 1, arbitrary: fc.constantFrom("PUT", "HEAD", "OPTIONS", "DELETE", "G ET", "", "PRI") },
      ),
      target: fc.oneof({ weight: 3, arbitrary: pathArb }, { weight: 1, arbitrary: connectGetTargetArb }),
      version: fc.oneof(
        { weight: 12, arbitrary: fc.constant("HTTP/1.1") },
        { weight: 1, arbitrary: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/1.1 extra", "HTTP/9.9", "") },
      ),
      headers: fc
        .tuple(
          fc.oneof(
            { weight: 9, arbitrary: fc.constant<Field[]>([["Host", "127.0.0.1"]]) },
            { weight: 1, arbitrary: fc.constant<Field[]>([]) },
          ),
          fc.option(contentTypeArb, { freq: 8, nil: null }),
          fc.array(h1HeaderArb, { maxLength: 5 }),
        )
        .map(([host, ct, rest]): Field[] => [
          ...host,
          ...(ct === null ? [] : [["Content-Type", ct] as Field]),
          ...rest,
        ]),
      body: http1BodyArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      bytes: fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc
          .string({ unit: "binary-ascii", maxLength: 200 })
          .map((s) => new Uint8Array(Buffer.from(s, "latin1"))),
      ),
    }),
  },
);

export const http1SequenceArb: Arbitrary<Http1Sequence> = fc.record({
  proto: fc.constant("http1" as const),
  requests: fc.array(http1RequestArb, { minLength: 1, maxLength: 3 }),
  write: writePlanArb,
});

export const sequenceArb: Arbitrary<Sequence> = fc.oneof(
  { weight: 3, arbitrary: h2SequenceArb },
  { weight: 2, arbitrary: http1SequenceArb },
);

/** What one property run sends: 1 to 4 sequences, on fresh sockets, 1 to 3 at a time. */
export const batchArb: Arbitrary<Batch> = fc.record({
  sequences: fc.array(sequenceArb, { minLength: 1, maxLength: 4 }),
  parallel: fc.integer({ min: 1, max: 3 }),
});
