/**
 * Request messages of the methods rng-server serves, as protobuf (hand
 * encoded: field numbers from proto/) and JSON, and a few hostile bodies.
 */
import { gzipSync } from "node:zlib";
import fc from "fast-check";

/** Bytes that print as `label` in a counterexample (instead of every byte). */
export function labelled(bytes: Uint8Array, label: string): Uint8Array {
  Object.defineProperty(bytes, fc.toStringMethod, { value: () => label });
  return bytes;
}

/** The methods rng-server serves (see proto/), with the kind of stream each is. */
export const REAL_METHODS = [
  "/rng.Rng/Rng",
  "/rng.v1.RngService/Generate",
  "/rng.v1.RngService/GenerateStream",
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
] as const;

/** Paths that look like methods and are not served. */
export const UNKNOWN_METHODS = [
  "/nope.Nope/Nope",
  "/rng.v1.RngService/Nope",
  "/rng.v1.RngService/generate",
  "/rng.Rng",
  "/rng.Rng/Rng/extra",
  "/grpc.health.v1.Health/",
  "/",
  "//",
  "/rng.v1.RngService/Generate?x=1",
  "/../rng.Rng/Rng",
] as const;

export function varint(value: number | bigint): number[] {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A varint field (wire type 0). */
export function pbVarint(field: number, value: number | bigint): Buffer {
  return Buffer.from([...varint(field * 8), ...varint(value)]);
}

/** A length-delimited field (wire type 2). */
export function pbBytes(field: number, value: string | Uint8Array): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : Buffer.from(value);
  return Buffer.concat([Buffer.from([...varint(field * 8 + 2), ...varint(bytes.length)]), bytes]);
}

/** rng.v1.GenerateRequest { delay_ms = 1 }. */
export const generateRequest = (delayMs: number) => (delayMs ? pbVarint(1, delayMs) : Buffer.alloc(0));
/** rng.v1.GenerateStreamRequest { count = 1; interval_ms = 2 }. */
export const generateStreamRequest = (count: number, intervalMs: number) =>
  Buffer.concat([
    count ? pbVarint(1, count) : Buffer.alloc(0),
    intervalMs ? pbVarint(2, intervalMs) : Buffer.alloc(0),
  ]);
/** grpc.health.v1.HealthCheckRequest { service = 1 }. */
export const healthCheckRequest = (service: string) => (service ? pbBytes(1, service) : Buffer.alloc(0));
/** grpc.reflection.v1.ServerReflectionRequest { host = 1; list_services = 7; file_containing_symbol = 4 }. */
export const reflectionRequest = (listServices: boolean, symbol: string) =>
  listServices ? pbBytes(7, "*") : pbBytes(4, symbol);

let bomb: Buffer | undefined;
/** 16 MiB of zeros, gzipped (about 16 KiB): a decompression bomb. Built once. */
export function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  return bomb;
}

/** JSON nested `depth` levels deep: `[[[…]]]` or `{"a":{"a":…}}`. */
export function nestedJson(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? "[".repeat(depth) + "]".repeat(depth)
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}
