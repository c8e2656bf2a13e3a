#!/usr/bin/env node
// `pnpm run check:packages`: checks that every public (not "private")
// workspace package is installable from a registry by a stranger, on the
// tarball that `pnpm publish` would upload, not on the workspace:
//   - package.json has the metadata a registry page and an installer need
//     (license, repository with its directory, homepage, bugs, engines,
//     files, publishConfig.access, exports with types) and a LICENSE
//     identical to the repository's, and a README.md;
//   - its dependencies and peer dependencies name no private workspace
//     package (a stranger could not install it), and workspace packages are
//     "workspace:^", which pnpm pack turns into a range of their version;
//   - the tarball holds package.json, README.md, CHANGELOG.md (once
//     `pnpm version-packages` has written it), LICENSE and dist/ only
//     (no tests, sources, tsconfig or .turbo), no "workspace:" specifier,
//     nothing in dist/ whose src/ file is gone (a stale build), and
//     JavaScript source maps that carry their sources (src/ is not shipped,
//     so a map without sourcesContent would point at nothing);
//   - publint (strict: warnings fail too) and @arethetypeswrong/cli pass on
//     the tarball. attw runs with --profile esm-only: the packages are ESM
//     only ("type": "module", exports without a "require" condition) for
//     Node >= 22, so the node10 resolution (no exports support) and
//     node16-from-CJS (`require` of ESM, which TypeScript reports even though
//     Node 22.12+ can require(esm)) are not supported modes, and the profile
//     ignores exactly those two; every ESM and bundler resolution must pass.
//   - every changeset (.changeset/*.md) starts with front matter that
//     changesets can read: `"<public package>": major|minor|patch` lines
//     between two `---` lines (a Markdown formatter once turned them into a
//     heading, which changesets reads as no release at all).
// It builds the public packages first (turbo, cached when CI's typecheck
// has built them). Exit 1 with one line per problem, else 0.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const root = join(import.meta.dirname, "..");
const REPO = "https://github.com/rngbalance/rngbalance";
const FILES = ["dist", "!dist/**/*.d.ts.map", "README.md", "CHANGELOG.md", "LICENSE"];
const run = (cmd, args, opts = {}) =>
  execFileSync(cmd, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
const bin = (name) => join(root, "node_modules", ".bin", name);

const rootPkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const license = readFileSync(join(root, "LICENSE"), "utf8");
const workspace = JSON.parse(run("pnpm", ["ls", "-r", "--depth", "-1", "--json"]))
  .filter((p) => p.path !== root)
  .map((p) => ({ ...p, manifest: JSON.parse(readFileSync(join(p.path, "package.json"), "utf8")) }));
const byName = new Map(workspace.map((p) => [p.name, p]));
const pub = workspace.filter((p) => !p.manifest.private).sort((a, b) => a.name.localeCompare(b.name));

const problems = [];
const fail = (pkg, msg) => problems.push(`${pkg}: ${msg}`);

/** The package.json checks, on the workspace manifest. */
function checkManifest({ name, path, manifest: m }) {
  const dir = relative(root, path);
  if (m.license !== "Apache-2.0") fail(name, `"license" is ${JSON.stringify(m.license)}, not "Apache-2.0"`);
  const r = m.repository ?? {};
  if (r.type !== "git" || r.url !== `git+${REPO}.git` || r.directory !== dir)
    fail(name, `"repository" must be {"type":"git","url":"git+${REPO}.git","directory":"${dir}"}`);
  if (m.homepage !== `${REPO}/tree/main/${dir}#readme`)
    fail(name, `"homepage" must be ${REPO}/tree/main/${dir}#readme`);
  if (m.bugs?.url !== `${REPO}/issues`) fail(name, `"bugs" must be {"url":"${REPO}/issues"}`);
  if (m.engines?.node !== rootPkg.engines.node)
    fail(name, `"engines.node" must be "${rootPkg.engines.node}" as the root's`);
  if (JSON.stringify(m.files) !== JSON.stringify(FILES))
    fail(name, `"files" must be ${JSON.stringify(FILES)}`);
  if (m.publishConfig?.access !== "public")
    fail(name, `"publishConfig.access" must be "public" (a scoped package is restricted otherwise)`);
  if (typeof m.sideEffects !== "boolean") fail(name, `"sideEffects" must be stated`);
  if (m.type !== "module") fail(name, `"type" must be "module"`);
  for (const [sub, target] of Object.entries(m.exports ?? {}))
    if (typeof target !== "object" || !target.types || !target.default)
      fail(name, `exports["${sub}"] must have "types" and "default" conditions`);
  if (!m.exports?.["."]) fail(name, `"exports" has no "." entry`);
  let own = "";
  try {
    own = readFileSync(join(path, "LICENSE"), "utf8");
  } catch {}
  if (own !== license)
    fail(name, `${dir}/LICENSE is missing or differs from the root LICENSE: cp LICENSE ${dir}/`);
  try {
    readFileSync(join(path, "README.md"));
  } catch {
    fail(name, `${dir}/README.md is missing`);
  }
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [dep, spec] of Object.entries(m[field] ?? {})) {
      const ws = byName.get(dep);
      if (!ws) continue;
      if (ws.manifest.private)
        fail(name, `${field} names ${dep}, which is private: a stranger cannot install it`);
      if (spec !== "workspace:^") fail(name, `${field}.${dep} is "${spec}", not "workspace:^"`);
    }
  }
}

/** The tarball checks; returns the tarball's path. */
function checkTarball({ name, path }, out) {
  const packed = run("pnpm", ["pack", "--json", "--pack-destination", out], { cwd: path });
  const tarball = JSON.parse(packed.slice(packed.indexOf("{"))).filename;
  const files = run("tar", ["tzf", tarball]).trim().split("\n");
  for (const f of files) {
    const p = f.replace(/^package\//, "");
    if (!["package.json", "README.md", "CHANGELOG.md", "LICENSE"].includes(p) && !p.startsWith("dist/"))
      fail(name, `tarball ships ${p}`);
    if (/\.test\.|(^|\/)test\//.test(p)) fail(name, `tarball ships a test file: ${p}`);
    const source = p.match(/^dist\/(.*)\.(?:js|d\.ts)$/)?.[1];
    if (source && !existsSync(join(path, "src", `${source}.ts`)))
      fail(
        name,
        `tarball ships ${p}, built from src/${source}.ts, which no longer exists: rebuild (its build script empties dist/)`,
      );
    if (p.endsWith(".d.ts.map")) fail(name, `tarball ships ${p}, which points at src/ (not shipped)`);
    if (p.endsWith(".js.map")) {
      const map = JSON.parse(run("tar", ["xzf", tarball, "-O", f]));
      if (!map.sourcesContent?.every((s) => typeof s === "string"))
        fail(name, `${p} has no sourcesContent: set "inlineSources": true in its tsconfig.json`);
    }
  }
  const shipped = run("tar", ["xzf", tarball, "-O", "package/package.json"]);
  if (shipped.includes("workspace:"))
    fail(name, `the packed package.json still has a "workspace:" specifier`);
  const deps = JSON.parse(shipped).dependencies ?? {};
  for (const [dep, spec] of Object.entries(deps)) {
    const ws = byName.get(dep);
    if (ws && spec !== `^${ws.manifest.version}`)
      fail(name, `packed dependency ${dep}@${spec}, expected ^${ws.manifest.version}`);
  }
  if (!files.includes("package/LICENSE")) fail(name, "tarball has no LICENSE");
  return tarball;
}

/** Runs a linter on the tarball; its output is printed only when it fails. */
function lint(name, tool, args) {
  try {
    run(bin(tool), args, { env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
  } catch (e) {
    fail(name, `${tool} failed:\n${e.stdout}${e.stderr}`);
  }
}

console.log(`public packages: ${pub.map((p) => p.name).join(", ")}`);
run(
  "pnpm",
  ["exec", "turbo", "run", "build", "--output-logs=errors-only", ...pub.map((p) => `--filter=${p.name}`)],
  {
    stdio: ["ignore", "ignore", "inherit"],
  },
);
const out = mkdtempSync(join(tmpdir(), "check-packages-"));
try {
  for (const p of pub) {
    const before = problems.length;
    checkManifest(p);
    let tarball;
    try {
      tarball = checkTarball(p, out);
    } catch (e) {
      fail(p.name, `could not be packed: ${e.stdout ?? ""}${e.stderr ?? ""}${e.stdout || e.stderr ? "" : e}`);
    }
    if (tarball) {
      lint(p.name, "publint", ["run", "--strict", tarball]);
      lint(p.name, "attw", ["--profile", "esm-only", "--no-color", "--format", "table-flipped", tarball]);
    }
    console.log(`${problems.length === before ? "ok  " : "FAIL"} ${p.name}@${p.manifest.version}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
const changesetDir = join(root, ".changeset");
for (const file of readdirSync(changesetDir).filter((f) => f.endsWith(".md") && f !== "README.md")) {
  const text = readFileSync(join(changesetDir, file), "utf8");
  const front = /^---\n((?:"[^"]+": (?:major|minor|patch)\n)+)---\n/.exec(text);
  if (!front) {
    problems.push(
      `.changeset/${file}: no front matter of '"<package>": major|minor|patch' lines between '---' lines`,
    );
    continue;
  }
  for (const [, name] of front[1].matchAll(/"([^"]+)"/g)) {
    if (!pub.some((p) => p.name === name))
      problems.push(`.changeset/${file}: ${name} is not a public package`);
  }
}
for (const p of problems) console.error(p);
if (problems.length > 0) process.exit(1);
console.log(
  `${pub.length} public packages pass (metadata, LICENSE, tarball contents, publint, attw); the changesets are readable`,
);
