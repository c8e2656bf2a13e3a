import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { childProcessEnv, freePort } from "@rngbalance/testkit";

/** Options of {@link startVerdaccio}. */
export interface VerdaccioOptions {
  /** A directory of its own: config, storage (the published packages and the uplink's cache), users. */
  dir: string;
  /** The scope whose packages are published to it, never fetched from the uplink, e.g. "@rngbalance". */
  scope: string;
  /** The registry every other package comes from (and is cached from, in `dir`): npm's configured one. */
  uplink: string;
  /** An HTTPS proxy for the uplink (npm's `https-proxy`). Default none. */
  httpsProxy?: string;
  /** Extra CA certificates for the uplink (npm's `cafile`). Default none. */
  caFile?: string;
}

/** A running Verdaccio. */
export interface LocalRegistry {
  /** Its URL, http://127.0.0.1:PORT/ (trailing slash). */
  readonly url: string;
  /** A token of a user it created, who may publish to the scope. */
  readonly token: string;
  /** What it printed so far (JSON log lines, warnings). */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for its exit. */
  stop(): Promise<void>;
}

/**
 * Starts Verdaccio on 127.0.0.1 on a free port as a child process, with a
 * config written to `dir`: the scope is served from its own storage only
 * (publishing needs a user; the test registers one), everything else is
 * proxied to the uplink and cached in `dir` for this run. Resolves once it
 * answers /-/ping and the user exists; stops it again if that fails.
 */
export async function startVerdaccio(options: VerdaccioOptions): Promise<LocalRegistry> {
  const port = await freePort("127.0.0.1");
  const url = `http://127.0.0.1:${port}/`;
  const uplink = [
    `    url: ${JSON.stringify(options.uplink)}`,
    ...(options.httpsProxy ? [`    https_proxy: ${JSON.stringify(options.httpsProxy)}`] : []),
    // Slow uplinks under a loaded CI machine: give them time, and do not
    // mark the uplink down after a couple of slow answers.
    "    timeout: 60s",
    "    max_fails: 10",
  ];
  writeFileSync(
    join(options.dir, "config.yaml"),
    [
      "storage: ./storage",
      "auth:",
      "  htpasswd:",
      "    file: ./htpasswd",
      "    max_users: 1",
      "uplinks:",
      "  upstream:",
      ...uplink,
      "packages:",
      `  '${options.scope}/*':`,
      "    access: $all",
      "    publish: $authenticated",
      "  '**':",
      "    access: $all",
      "    proxy: upstream",
      "log: { type: stdout, format: json, level: warn }",
      "",
    ].join("\n"),
  );
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve("verdaccio/package.json")), "bin", "verdaccio");
  const child = spawn(
    process.execPath,
    [bin, "--config", join(options.dir, "config.yaml"), "--listen", `127.0.0.1:${port}`],
    {
      cwd: options.dir,
      env: childProcessEnv(options.caFile ? { NODE_EXTRA_CA_CERTS: options.caFile } : {}),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    output += c;
  });
  child.stderr?.setEncoding("utf8").on("data", (c: string) => {
    output += c;
  });
  const exited = once(child, "close");
  const stop = () => stopChild(child, exited);
  try {
    await waitForPing(url, child, () => output);
    const token = await addUser(url);
    return { url, token, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitForPing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `verdaccio exited (${child.exitCode ?? child.signalCode}) before answering:\n${output()}`,
      );
    }
    try {
      const res = await fetch(new URL("-/ping", url), { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`verdaccio did not answer ${url}-/ping within 30 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Registers a user the way `npm adduser` does, and returns its token. */
async function addUser(url: string): Promise<string> {
  const name = "release-test";
  const res = await fetch(new URL(`-/user/org.couchdb.user:${name}`, url), {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password: "release-test-password" }),
  });
  const body = (await res.json()) as { token?: string; error?: string };
  if (!res.ok || !body.token)
    throw new Error(`verdaccio refused to add a user: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}

async function stopChild(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return void (await exited);
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
