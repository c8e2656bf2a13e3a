/**
 * A seeded wire-level fuzzer for rng-server: fast-check arbitraries of
 * HTTP/2 frame sequences and HTTP/1.1 requests, their encoders (frames,
 * HPACK, gRPC envelopes), and a runner that sends them to a real server
 * process and checks that it stays alive, healthy, and within its memory
 * and descriptor baseline, shrinking any failure to a minimal batch.
 *
 * @packageDocumentation
 */
export * from "./arbitraries.js";
export * from "./bodies.js";
export * from "./checks.js";
export * from "./encode.js";
export * from "./frames.js";
export * from "./hpack.js";
export type * from "./model.js";
export * from "./runner.js";
export * from "./send.js";
