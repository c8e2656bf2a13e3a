import { spawnSync } from "node:child_process";
import { commandPath, findOrInstallCommand } from "@rngbalance/testkit";

/** Why faults that need the kernel cannot run here, or that they can. */
export type FaultSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Options of {@link probeFaultSupport}. */
export interface ProbeOptions {
  /**
   * Install Debian's `nftables` package with apt-get when `nft` is missing
   * and the process is root (as the tests that need prometheus do). Default true.
   */
  install?: boolean;
}

let cached: FaultSupport | undefined;

/**
 * Whether network namespaces and nftables rules can be made here: root,
 * `ip` (iproute2) and `nft` (nftables, installed when missing, see
 * {@link ProbeOptions.install}), and a namespace can actually be created
 * (containers without CAP_SYS_ADMIN cannot). Tests skip with `reason`.
 * The answer is cached for the process.
 *
 * SIGSTOP/SIGCONT faults need none of this and run everywhere.
 */
export function probeFaultSupport(options: ProbeOptions = {}): FaultSupport {
  if (cached) return cached;
  cached = probe(options.install ?? true);
  return cached;
}

function probe(install: boolean): FaultSupport {
  if (process.platform !== "linux")
    return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0)
    return { ok: false, reason: "network namespaces and nftables need root (run the tests as root)" };
  if (commandPath("ip") === undefined) {
    return { ok: false, reason: "the ip command is missing (apt-get install iproute2)" };
  }
  if (commandPath("nft") === undefined) {
    if (!install) return { ok: false, reason: "the nft command is missing (apt-get install nftables)" };
    const nft = findOrInstallCommand("nft", "nftables");
    if ("missing" in nft) return { ok: false, reason: `nft is missing: ${nft.missing}` };
  }
  // Root in a container may still lack the capability: try once.
  const name = `rngprobe-${process.pid.toString(36)}`;
  const add = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  if (add.status !== 0) {
    return { ok: false, reason: `ip netns add failed: ${(add.stderr || add.error?.message || "").trim()}` };
  }
  const nft = spawnSync("ip", ["netns", "exec", name, "nft", "list", "ruleset"], { encoding: "utf8" });
  spawnSync("ip", ["netns", "del", name]);
  if (nft.status !== 0) {
    return {
      ok: false,
      reason: `nft does not work in a namespace: ${(nft.stderr || nft.error?.message || "").trim()}`,
    };
  }
  return { ok: true };
}
