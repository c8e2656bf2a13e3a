import { spawnSync } from "node:child_process";

/** The path of `command` on PATH, or undefined. */
export function commandPath(command: string): string | undefined {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" }).stdout.trim();
  return found === "" ? undefined : found;
}

/**
 * `command`'s path, installing the Debian package `pkg` with apt-get when it
 * is missing and this process is root (CI runs as root; machines here start
 * without the tools some tests need, and nothing installed by hand
 * survives). The package lists are refreshed once when the first try fails
 * (they may be missing or stale); services never start inside apt-get here
 * (policy-rc.d), so a test starts its own. Returns why the command cannot
 * be had otherwise, for a test to skip with.
 */
export function findOrInstallCommand(command: string, pkg: string): { path: string } | { missing: string } {
  const found = commandPath(command);
  if (found !== undefined) return { path: found };
  if (process.getuid?.() !== 0) {
    return { missing: `${command} is not installed and this is not root: apt-get install ${pkg}` };
  }
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
  const installed = commandPath(command);
  if (result.status !== 0 || installed === undefined) {
    const why = (result.stderr || result.error?.message || `${command} still not on PATH`).trim().slice(-300);
    return { missing: `apt-get install ${pkg} failed: ${why}` };
  }
  return { path: installed };
}
