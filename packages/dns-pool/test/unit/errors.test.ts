import assert from "node:assert/strict";
import { constants as h2 } from "node:http2";
import { describe, it } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  classifyTransportError,
  connectionLost,
  errorCodeInChain,
  errorCodesInChain,
  neverProcessed,
  noteStreamReset,
  unsentError,
} from "../../src/core/errors.js";

function nodeError(code: string, message = code, cause?: unknown): Error {
  const e = new Error(message, { cause }) as Error & { code: string };
  e.code = code;
  return e;
}

describe("error classification by codes along the cause chain", () => {
  it("lists Node codes outermost first, and finds one", () => {
    const root = nodeError("ECONNRESET", "read ECONNRESET");
    const wrapped = new ConnectError(
      "aborted",
      Code.Aborted,
      undefined,
      undefined,
      nodeError("ERR_X", "x", root),
    );
    assert.deepEqual(errorCodesInChain(wrapped), ["ERR_X", "ECONNRESET"]);
    assert.equal(errorCodeInChain(wrapped, ["EPIPE", "ECONNRESET"]), "ECONNRESET");
    assert.equal(errorCodeInChain(wrapped, ["ECONNREFUSED"]), undefined);
  });

  it("survives cause cycles", () => {
    const a = nodeError("EA") as Error & { cause?: unknown };
    const b = nodeError("EB", "b", a);
    a.cause = b;
    assert.equal(errorCodesInChain(a).length, 10);
  });

  it("classifies unsent, refused, lost and connect failures, never by message text", () => {
    assert.equal(classifyTransportError(unsentError("no connection")), "unsent");
    const streamErr = nodeError(
      "ERR_HTTP2_STREAM_ERROR",
      "Stream closed with error code NGHTTP2_REFUSED_STREAM",
    );
    noteStreamReset(streamErr, h2.NGHTTP2_REFUSED_STREAM);
    const refused = new ConnectError(streamErr.message, Code.Internal, undefined, undefined, streamErr);
    assert.equal(classifyTransportError(refused), "refused");
    assert.equal(
      classifyTransportError(
        new ConnectError("x", Code.Unavailable, undefined, undefined, nodeError("ECONNRESET")),
      ),
      "connection-lost",
    );
    assert.equal(classifyTransportError(nodeError("ECONNREFUSED")), "connect-failed");
    // The same words without the recorded code are not a refusal.
    assert.equal(
      classifyTransportError(new ConnectError("REFUSED_STREAM ECONNRESET", Code.Unavailable)),
      "other",
    );
  });

  it("neverProcessed: unsent, or UNAVAILABLE/INTERNAL from a refused stream", () => {
    assert.equal(neverProcessed(unsentError("x")), true);
    const reset = new ConnectError(
      "http/2 stream closed with error code REFUSED_STREAM (0x7)",
      Code.Unavailable,
    );
    assert.equal(neverProcessed(reset), false, "unrecorded: not trusted");
    noteStreamReset(reset, h2.NGHTTP2_REFUSED_STREAM);
    assert.equal(neverProcessed(reset), true);
    const calm = new ConnectError("calm", Code.ResourceExhausted);
    noteStreamReset(calm, h2.NGHTTP2_REFUSED_STREAM);
    assert.equal(neverProcessed(calm), false, "only UNAVAILABLE and INTERNAL");
    assert.equal(neverProcessed(new ConnectError("server said so", Code.Unavailable)), false);
  });

  it("connectionLost: ECONNRESET or EPIPE anywhere in the chain", () => {
    assert.equal(
      connectionLost(
        new ConnectError(
          "socket hang up",
          Code.Aborted,
          undefined,
          undefined,
          nodeError("ECONNRESET", "socket hang up"),
        ),
      ),
      true,
    );
    assert.equal(connectionLost(nodeError("EPIPE")), true);
    assert.equal(connectionLost(new ConnectError("canceled", Code.Canceled)), false);
  });
});
