import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./commands.js";

/** The fields of a package.json the release test reads. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: string | Record<string, unknown>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** A package of the pnpm workspace. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: Manifest;
}

/** What the release publishes, and why. */
export interface ReleaseSet {
  /** Every workspace package without `"private": true`, by name. */
  readonly public: readonly WorkspacePackage[];
  /**
   * Private workspace packages that a published one needs at runtime
   * (dependencies, optionalDependencies, peerDependencies), with the
   * published packages that need them. A real registry would not have
   * them, so installing the packages that need them fails.
   */
  readonly privateRuntimeDeps: ReadonlyMap<string, { pkg: WorkspacePackage; neededBy: string[] }>;
}

/** Every package of the pnpm workspace at `root` (its root package excluded), as pnpm sees the workspace. */
export async function workspacePackages(root: string): Promise<WorkspacePackage[]> {
  const { stdout } = await run("pnpm", ["ls", "--recursive", "--depth=-1", "--json"], { cwd: root });
  const projects = JSON.parse(stdout) as { path: string }[];
  return projects
    .filter((p) => p.path !== root)
    .map((p) => ({ dir: p.path, manifest: JSON.parse(readFileSync(join(p.path, "package.json"), "utf8")) }))
    .sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
}

/** The runtime dependencies of `m` that are workspace packages (`workspace:` specs). */
export function workspaceRuntimeDeps(m: Manifest): string[] {
  const specs = { ...m.peerDependencies, ...m.optionalDependencies, ...m.dependencies };
  return Object.entries(specs)
    .filter(([, spec]) => spec.startsWith("workspace:"))
    .map(([name]) => name);
}

/** The public packages, and the private ones they need at runtime (transitively). */
export function releaseSet(packages: readonly WorkspacePackage[]): ReleaseSet {
  const byName = new Map(packages.map((p) => [p.manifest.name, p]));
  const pub = packages.filter((p) => p.manifest.private !== true);
  const privateRuntimeDeps = new Map<string, { pkg: WorkspacePackage; neededBy: string[] }>();
  const visit = (p: WorkspacePackage) => {
    for (const dep of workspaceRuntimeDeps(p.manifest)) {
      const d = byName.get(dep);
      if (!d) throw new Error(`${p.manifest.name} depends on ${dep}, which is not a workspace package`);
      if (d.manifest.private !== true) continue;
      const seen = privateRuntimeDeps.get(dep);
      if (seen) {
        if (!seen.neededBy.includes(p.manifest.name)) seen.neededBy.push(p.manifest.name);
        continue;
      }
      privateRuntimeDeps.set(dep, { pkg: d, neededBy: [p.manifest.name] });
      visit(d);
    }
  };
  for (const p of pub) visit(p);
  return { public: pub, privateRuntimeDeps };
}

/**
 * The import specifiers of a package's entry points: its name for ".", and
 * name + subpath for every other key of `exports` (patterns with "*" and
 * "./package.json" left out: there is nothing to import from them by name).
 */
export function entryPointSpecifiers(m: Manifest): string[] {
  if (m.exports === undefined || typeof m.exports === "string") return [m.name];
  const keys = Object.keys(m.exports);
  // Conditions only ({"types": ..., "default": ...}): one entry point, ".".
  if (!keys.some((k) => k.startsWith("."))) return [m.name];
  return keys
    .filter((k) => !k.includes("*") && k !== "./package.json")
    .map((k) => (k === "." ? m.name : `${m.name}/${k.slice(2)}`));
}
