import { spawnSync } from "node:child_process";

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

function onPath(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).stdout.trim() !== "";
}

/** apt-get install, refreshing the package lists once when the first try fails. */
function aptInstall(pkg: string): string | undefined {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", pkg], {
      env,
      encoding: "utf8",
      timeout: 300_000,
    });
  let result = install();
  if (result.status !== 0) {
    spawnSync("apt-get", ["update", "-qq"], { env, timeout: 300_000 });
    result = install();
  }
  return result.status === 0 ? undefined : (result.stderr || result.error?.message || "").trim().slice(-300);
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
  if (!onPath("ip")) return { ok: false, reason: "the ip command is missing (apt-get install iproute2)" };
  if (!onPath("nft")) {
    if (!install) return { ok: false, reason: "the nft command is missing (apt-get install nftables)" };
    const failure = aptInstall("nftables");
    if (failure !== undefined || !onPath("nft")) {
      return {
        ok: false,
        reason: `nft is missing and apt-get install nftables failed: ${failure ?? "nft still not on PATH"}`,
      };
    }
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
