import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** Options of {@link startDnsServerProcess}. */
export interface DnsServerProcessOptions {
  /** The IP address it listens on (UDP and TCP, a free port). Default "127.0.0.1". */
  host?: string;
  /** How long to wait for it to listen. Default 10000. */
  startTimeoutMs?: number;
}

/**
 * A DNS server (`@rngbalance/dns-test-server`'s embedded one, playing kube-dns)
 * in a child process of its own, so a fault can freeze it with
 * `freezeProcess(dns.pid)` as a hung DNS server, which an in-process server
 * cannot be. While it is frozen, {@link DnsServerProcess.setAddresses} waits
 * until it is continued.
 */
export interface DnsServerProcess {
  /** Its pid (the target of `freezeProcess`). */
  readonly pid: number;
  /** `host:port`, the authority of a `dns://` target. */
  readonly address: string;
  /** Replaces the A records of `name` (TTL `ttlSeconds`, default 1); resolves once the server has them. */
  setAddresses(name: string, addresses: readonly string[], ttlSeconds?: number): Promise<void>;
  /** Stops the server (continuing it first if it is frozen). Idempotent. */
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL("./dns-child.js", import.meta.url));

/** Starts {@link DnsServerProcess}; resolves once it listens. */
export async function startDnsServerProcess(
  options: DnsServerProcessOptions = {},
): Promise<DnsServerProcess> {
  const child: ChildProcess = fork(CHILD, [options.host ?? "127.0.0.1"], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const exited = once(child, "exit");
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let address: string;
  try {
    address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`DNS server process not listening within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once("message", (m: { ready?: string }) => {
        clearTimeout(timer);
        if (m.ready) resolve(m.ready);
        else reject(new Error(`DNS server process: unexpected first message ${JSON.stringify(m)}`));
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`DNS server process exited before listening (code ${code}, signal ${signal})`));
      });
    });
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  let nextId = 0;
  const pending = new Map<number, () => void>();
  child.on("message", (m: { id?: number }) => {
    if (m.id !== undefined) {
      pending.get(m.id)?.();
      pending.delete(m.id);
    }
  });
  let closing: Promise<void> | undefined;
  return {
    pid: child.pid as number,
    address,
    setAddresses(name, addresses, ttlSeconds = 1) {
      const id = nextId++;
      return new Promise<void>((resolve) => {
        pending.set(id, resolve);
        child.send({ id, name, a: addresses, ttl: ttlSeconds });
      });
    },
    close() {
      closing ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGCONT");
          child.disconnect();
          const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
          await exited;
          clearTimeout(timer);
        }
      })();
      return closing;
    },
  };
}
