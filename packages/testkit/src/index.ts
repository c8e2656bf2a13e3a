/**
 * Test infrastructure for every package and app of the repository, in one
 * place: node child processes (the environment they need under node:test,
 * their output lines, servers that log JSON), waiting for a condition, free
 * ports, throwaway TLS certificates, hand-built HTTP/2 frames, and a child
 * process's inspector opened on demand (its stack, a full GC).
 *
 * @packageDocumentation
 */
export {
  createTestCertificates,
  type TestCertificates,
  type TestKeyPair,
} from "./certificates.js";
export { commandPath, findOrInstallCommand } from "./debian.js";
export { childProcessEnv } from "./env.js";
export { freePort } from "./free-port.js";
export {
  FrameFlag,
  FrameType,
  HTTP2_HELLO,
  HTTP2_PREFACE,
  h2Frame,
  hpackLiteral,
  postHeaderBlock,
} from "./h2-frames.js";
export {
  collectGarbage,
  collectGarbageAt,
  INSPECT_ON_DEMAND,
  type InspectorMessage,
  inspectOnDemandEnv,
  inspectorSession,
  openInspector,
} from "./inspector.js";
export { type MainWrapper, writeMainWrapper } from "./main-wrapper.js";
export {
  type ExitStatus,
  type NodeProcess,
  runNode,
  type SpawnNodeOptions,
  spawnNode,
} from "./node-process.js";
export { seededRandom, zipfSampler } from "./random.js";
export {
  type JsonLogServerProcess,
  type SpawnJsonLogServerOptions,
  spawnJsonLogServer,
} from "./server-process.js";
export { until } from "./until.js";
