import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { cleanupOnExit, run, runQuietlySync, uniqueName } from "./command.js";

/** Options of {@link createNetworkNamespace}. */
export interface NetworkNamespaceOptions {
  /** Name prefix, 1-12 lowercase letters/digits; the name adds the pid and a random part. Default "rngf". */
  prefix?: string;
}

/**
 * A network namespace of its own: a private loopback (127.0.0.0/8 and ::1,
 * up) with its own nftables ruleset, so packet drops made in it touch no
 * other process on the machine.
 */
export interface NetworkNamespace {
  /** Its name, as `ip netns list` shows it. */
  readonly name: string;
  /** The argv that runs `file args` inside it: `["ip", "netns", "exec", name, file, ...args]`. */
  command(file: string, args?: readonly string[]): [string, ...string[]];
  /** Runs a command inside it and resolves with its stdout (rejects with its stderr). */
  exec(file: string, args?: readonly string[]): Promise<string>;
  /**
   * Spawns a process inside it. `ip netns exec` replaces itself with the
   * command, so the child's pid is the command's (SIGSTOP reaches it) and an
   * IPC channel (`stdio: [..., "ipc"]`) works as for any child. The child is
   * killed (SIGKILL) by {@link NetworkNamespace.destroy} if still running.
   */
  spawn(file: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Kills what {@link NetworkNamespace.spawn} started and deletes the namespace. Idempotent. */
  destroy(): Promise<void>;
}

function killTree(children: Set<ChildProcess>): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      // A stopped child must be continued for SIGKILL's exit to be reaped promptly.
      try {
        process.kill(child.pid, "SIGCONT");
        process.kill(child.pid, "SIGKILL");
      } catch {
        // It exited meanwhile.
      }
    }
  }
}

/**
 * Creates a network namespace with its loopback up (`ip netns add`,
 * `ip netns exec <ns> ip link set lo up`). Needs root; check with
 * `probeFaultSupport()` first. The namespace is deleted by
 * {@link NetworkNamespace.destroy}, and at the latest when this process exits.
 */
export async function createNetworkNamespace(
  options: NetworkNamespaceOptions = {},
): Promise<NetworkNamespace> {
  const name = uniqueName(options.prefix ?? "rngf");
  const children = new Set<ChildProcess>();
  await run("ip", ["netns", "add", name]);
  const release = cleanupOnExit(() => {
    killTree(children);
    runQuietlySync("ip", ["netns", "del", name]);
  });
  let destroyed: Promise<void> | undefined;
  const ns: NetworkNamespace = {
    name,
    command: (file, args = []) => ["ip", "netns", "exec", name, file, ...args],
    exec: (file, args = []) => run("ip", ["netns", "exec", name, file, ...args]),
    spawn(file, args = [], spawnOptions = {}) {
      const child = spawn("ip", ["netns", "exec", name, file, ...args], spawnOptions);
      children.add(child);
      child.once("exit", () => children.delete(child));
      return child;
    },
    destroy() {
      destroyed ??= (async () => {
        const exits = [...children].map((c) => new Promise((r) => c.once("exit", r)));
        killTree(children);
        await Promise.all(exits);
        await run("ip", ["netns", "del", name]);
        release();
      })();
      return destroyed;
    },
  };
  try {
    await ns.exec("ip", ["link", "set", "lo", "up"]);
  } catch (err) {
    await ns.destroy();
    throw err;
  }
  return ns;
}

/** The names of the network namespaces on this machine (`ip netns list`). */
export async function listNetworkNamespaces(): Promise<string[]> {
  const out = await run("ip", ["netns", "list"]);
  // Lines look like "name" or "name (id: 3)".
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/, 1)[0] ?? "")
    .filter((n) => n !== "");
}
