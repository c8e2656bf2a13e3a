/**
 * Silent failures on one machine, for tests and `pnpm bench:faults`
 * (issue #23): network namespaces with their own loopback, nftables rules
 * that drop all or a share of one pod's packets, SIGSTOP/SIGCONT of a pod or
 * of a DNS server process, and (subpath `./scenarios`) the runner that
 * measures how clients ride those faults out.
 *
 * Everything made here (namespaces, rules, stopped processes) is undone by
 * its owner's remove/destroy/resume, and at the latest when the process
 * exits, so an interrupted run leaves nothing behind.
 *
 * @packageDocumentation
 */
export { cleanupOnExit, uniqueName } from "./command.js";
export { type DnsServerProcess, type DnsServerProcessOptions, startDnsServerProcess } from "./dns-process.js";
export {
  createNetworkNamespace,
  listNetworkNamespaces,
  type NetworkNamespace,
  type NetworkNamespaceOptions,
} from "./netns.js";
export { type DropPacketsOptions, dropPackets, type PacketDrop } from "./nft.js";
export { type FaultSupport, type ProbeOptions, probeFaultSupport } from "./probe.js";
export { type FrozenProcess, freezeProcess } from "./signals.js";
