import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { describe, it } from "node:test";
import { Code } from "@connectrpc/connect";
import { GRPC_STATUS_NAMES, grpcStatusName, HTTP2_ERROR_NAMES, http2ErrorName } from "../src/index.js";

/** connect's enum key as gRPC spells it: DeadlineExceeded -> DEADLINE_EXCEEDED, Canceled -> CANCELLED. */
function grpcSpelling(key: string): string {
  return key === "Canceled" ? "CANCELLED" : key.replace(/(?<=[a-z])(?=[A-Z])/g, "_").toUpperCase();
}

describe("gRPC status names", () => {
  it("name OK and every connect Code value, as gRPC spells them", () => {
    assert.equal(grpcStatusName(0), "OK");
    const codes = Object.entries(Code).filter((e): e is [string, number] => typeof e[1] === "number");
    assert.equal(codes.length, 16);
    for (const [key, code] of codes) assert.equal(grpcStatusName(code), grpcSpelling(key), key);
    assert.equal(grpcStatusName(Code.Canceled), "CANCELLED");
    assert.equal(grpcStatusName(Code.DeadlineExceeded), "DEADLINE_EXCEEDED");
  });

  it("has one distinct name per code 0-16, nothing more", () => {
    assert.equal(GRPC_STATUS_NAMES.length, 17);
    assert.equal(new Set(GRPC_STATUS_NAMES).size, 17);
    assert.equal(GRPC_STATUS_NAMES[Code.Unauthenticated], "UNAUTHENTICATED");
  });

  it("gives UNKNOWN for a number that is not a gRPC status code", () => {
    for (const code of [17, 100, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.equal(grpcStatusName(code), "UNKNOWN", String(code));
    }
  });
});

describe("HTTP/2 error code names", () => {
  it("name every code of RFC 9113 as Node's NGHTTP2_ constants do", () => {
    assert.equal(HTTP2_ERROR_NAMES.length, 14);
    for (const [code, name] of HTTP2_ERROR_NAMES.entries()) {
      assert.equal((http2.constants as unknown as Record<string, unknown>)[`NGHTTP2_${name}`], code, name);
      assert.equal(http2ErrorName(code), name);
    }
    assert.equal(http2ErrorName(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM), "ENHANCE_YOUR_CALM");
    assert.equal(http2ErrorName(0), "NO_ERROR");
  });

  it("give the code in hex for one RFC 9113 does not define", () => {
    assert.equal(http2ErrorName(0xe), "0xe");
    assert.equal(http2ErrorName(0x1f), "0x1f");
    assert.equal(http2ErrorName(0xffffffff), "0xffffffff");
  });
});
