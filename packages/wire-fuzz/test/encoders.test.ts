import assert from "node:assert/strict";
import { once } from "node:events";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import {
  type Batch,
  batchArb,
  chunks,
  contentTypeArb,
  encodeBody,
  encodeField,
  encodeInteger,
  encodeSequence,
  envelopeArb,
  type H2Sequence,
  metadataFieldArb,
  REAL_METHODS,
  type RequestHeaders,
  requestFields,
  sendSequence,
  UNKNOWN_METHODS,
  valueAt,
} from "../src/index.js";

describe("HPACK encoder", () => {
  it("encodes integers as RFC 7541 C.1 does", () => {
    assert.deepEqual(encodeInteger(10, 5), [0x0a]);
    assert.deepEqual(encodeInteger(1337, 5), [0x1f, 0x9a, 0x0a]);
    assert.deepEqual(encodeInteger(42, 8), [0x2a]);
    assert.deepEqual(encodeInteger(31, 5), [0x1f, 0x00]);
  });

  it("indexes static-table fields and writes the rest as literals without indexing, no Huffman", () => {
    assert.deepEqual([...encodeField(":method", "POST")], [0x83]);
    assert.deepEqual([...encodeField(":path", "/a")], [0x04, 0x02, 0x2f, 0x61]);
    assert.deepEqual([...encodeField("x", "y")], [0x00, 0x01, 0x78, 0x01, 0x79]);
    assert.deepEqual(
      [...encodeField(":method", "POST", "literal")],
      [0x00, 0x07, ...Buffer.from(":method"), 0x04, ...Buffer.from("POST")],
    );
  });
});

/** Requests Node's own HTTP/2 server (nghttp2) must accept: valid names and values only. */
const validRequestArb: fc.Arbitrary<RequestHeaders> = fc.record({
  kind: fc.constant("request" as const),
  method: fc.constantFrom("POST", "GET", "PUT"),
  path: fc.constantFrom<string>(...REAL_METHODS, ...UNKNOWN_METHODS),
  authority: fc.constant("127.0.0.1"),
  contentType: fc.option(contentTypeArb, { nil: null }),
  te: fc.boolean(),
  metadata: fc.array(
    metadataFieldArb(true).filter(
      ([n, v]) => /^[a-z0-9-]+$/.test(n) && n !== "te" && /^[\x20-\x7e]*$/.test(v),
    ),
    { maxLength: 4 },
  ),
  many: fc.option(fc.integer({ min: 1, max: 60 }), { nil: null }),
  mangle: fc.constant(null),
  encoding: fc.constantFrom("auto" as const, "literal" as const),
});

describe("frames and HPACK, decoded by node:http2", () => {
  let server: http2.Http2Server;
  let port: number;
  const received: { headers: http2.IncomingHttpHeaders; body: Buffer }[] = [];
  before(async () => {
    server = http2.createServer({ maxHeaderListPairs: 1000 });
    server.on("stream", (stream, headers) => {
      const body: Buffer[] = [];
      stream.on("data", (d: Buffer) => body.push(d));
      stream.on("end", () => {
        received.push({ headers, body: Buffer.concat(body) });
        stream.respond({ ":status": 200 }, { endStream: true });
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it("delivers generated requests (fragments, CONTINUATION, padding, priority, bodies) as generated", async () => {
    const cases = fc.sample(
      fc.record({
        block: validRequestArb,
        body: fc.record({
          kind: fc.constant("envelopes" as const),
          envelopes: fc.array(envelopeArb, { maxLength: 2 }),
        }),
        fragments: fc.integer({ min: 1, max: 4 }),
        padding: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
        bodyFrames: fc.integer({ min: 1, max: 3 }),
        cut: fc.integer({ min: 0, max: 10_000 }),
      }),
      { seed: 7, numRuns: 25 },
    );
    for (const c of cases) {
      received.length = 0;
      const seq: H2Sequence = {
        proto: "h2",
        preface: "valid",
        settings: [],
        ops: [
          {
            op: "headers",
            stream: { kind: "new" },
            block: c.block,
            endStream: false,
            fragments: c.fragments,
            unterminated: false,
            ...(c.padding !== undefined ? { padding: c.padding } : {}),
            priority: { dependsOn: { kind: "raw", id: 0 }, weight: 15, exclusive: false },
          },
          {
            op: "data",
            stream: { kind: "last" },
            body: c.body,
            endStream: true,
            frames: c.bodyFrames,
            lengthDelta: 0,
          },
        ],
        write: { cuts: [{ at: c.cut, delayMs: 1 }], lingerMs: 0, close: "end" },
      };
      // Wait for the server to see the stream end (bounded).
      const sent = sendSequence(
        { host: "127.0.0.1", port },
        { ...seq, write: { ...seq.write, lingerMs: 100 } },
      );
      await sent;
      assert.equal(received.length, 1, `the server got no stream for ${JSON.stringify(c.block)}`);
      const got = received[0]!;
      const expected = requestFields(c.block);
      for (const [name, value] of expected) {
        const v = got.headers[name];
        const values = Array.isArray(v) ? v : [v];
        assert.ok(
          values.some((x) => x === value || String(x).split(", ").includes(value)),
          `${name}: expected ${value}, got ${String(v)}`,
        );
      }
      assert.deepEqual(got.body, encodeBody(c.body));
    }
  });
});

describe("determinism", () => {
  const bytesOf = (batches: Batch[]) =>
    batches.map((b) =>
      b.sequences.map((s) => {
        const e = encodeSequence(s);
        return { bytes: e.bytes, chunks: chunks(e.bytes, s.write).map((c) => [c.bytes.length, c.delayMs]) };
      }),
    );

  it("gives the same bytes, cuts and pauses for the same seed, and others for another seed", () => {
    const a = bytesOf(fc.sample(batchArb, { seed: 1234, numRuns: 40 }));
    const b = bytesOf(fc.sample(batchArb, { seed: 1234, numRuns: 40 }));
    const c = bytesOf(fc.sample(batchArb, { seed: 1235, numRuns: 40 }));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it("valueAt gives the value a replay of seed and path runs first", () => {
    const first = fc.sample(batchArb, { seed: 99, numRuns: 3 })[2]!;
    const at = valueAt(99, "2", batchArb);
    assert.deepEqual(bytesOf([at]), bytesOf([first]));
  });
});
