import * as net from "node:net";
import { cleanupOnExit, run, runQuietlySync, uniqueName } from "./command.js";

/** Options of {@link dropPackets}. */
export interface DropPacketsOptions {
  /** The pod's IP address (v4 or v6). */
  host: string;
  /** The pod's TCP port. */
  port: number;
  /**
   * Percentage of the packets to drop, 1-100, each packet drawn at random
   * (nft `numgen random mod 100 < N`). Default 100: a blackhole.
   */
  percent?: number;
  /**
   * The network namespace (its name) whose ruleset gets the rule. Default:
   * the one this process runs in.
   */
  netns?: string;
}

/** Rules made by {@link dropPackets}; {@link PacketDrop.remove} lets the packets through again. */
export interface PacketDrop {
  /** The nftables table that holds the rules (`inet <name>`), one per call. */
  readonly table: string;
  /** Deletes the table. Idempotent. */
  remove(): Promise<void>;
}

/**
 * Drops every TCP packet to and from `host:port` (or `percent` % of them),
 * as a partitioned network or a dead node does: no RST, no ICMP, the peer
 * learns nothing (a TCP connect just waits). The rules sit in the input
 * hook, which every loopback packet passes after output: packets to the pod
 * match by destination, its answers by source. Needs root and `nft`; see `probeFaultSupport()`.
 * Removed by {@link PacketDrop.remove}, and at the latest when this process exits.
 *
 * @throws TypeError for a host that is not an IP address, a port outside
 *   1-65535 or a percent outside 1-100.
 */
export async function dropPackets(options: DropPacketsOptions): Promise<PacketDrop> {
  const { host, port, percent = 100, netns } = options;
  const family = net.isIP(host);
  if (family === 0) throw new TypeError(`dropPackets: host must be an IP address, got "${host}"`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`dropPackets: port must be an integer in 1-65535, got ${port}`);
  }
  if (!Number.isInteger(percent) || percent < 1 || percent > 100) {
    throw new TypeError(`dropPackets: percent must be an integer in 1-100, got ${percent}`);
  }
  const table = uniqueName("rngdrop").replaceAll("-", "_");
  const ip = family === 4 ? "ip" : "ip6";
  const chance = percent === 100 ? "" : `numgen random mod 100 < ${percent} `;
  const script = [
    `add table inet ${table}`,
    `add chain inet ${table} input { type filter hook input priority -10; policy accept; }`,
    `add rule inet ${table} input ${ip} daddr ${host} tcp dport ${port} ${chance}drop`,
    `add rule inet ${table} input ${ip} saddr ${host} tcp sport ${port} ${chance}drop`,
  ].join("\n");
  const nft = (args: string[]): [string, string[]] =>
    netns === undefined ? ["nft", args] : ["ip", ["netns", "exec", netns, "nft", ...args]];
  // One transaction: the rules go in together or not at all.
  await runScript(nft, script);
  const deleteArgs = ["delete", "table", "inet", table];
  const release = cleanupOnExit(() => runQuietlySync(...nft(deleteArgs)));
  let removed: Promise<void> | undefined;
  return {
    table,
    remove() {
      removed ??= run(...nft(deleteArgs)).then(() => {
        release();
      });
      return removed;
    },
  };
}

async function runScript(nft: (args: string[]) => [string, string[]], script: string): Promise<void> {
  const { mkdtemp, writeFile, rm } = await import("node:fs/promises");
  const { tmpdir } = await import("node:os");
  const path = await import("node:path");
  const dir = await mkdtemp(path.join(tmpdir(), "rng-nft-"));
  try {
    const file = path.join(dir, "rules.nft");
    await writeFile(file, `${script}\n`);
    await run(...nft(["-f", file]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
