/**
 * The release test: what a consumer gets from `npm install`, end to end.
 *
 * Every public workspace package (no `"private": true`) is packed with
 * `pnpm pack` (which rewrites `workspace:` ranges to versions, as `pnpm
 * publish` does), published with `npm publish` to a real Verdaccio started
 * on 127.0.0.1 for this test, and installed with plain npm into a scratch
 * project in a temporary directory, with its own npm cache and user config.
 * Third-party packages come through Verdaccio's uplink (npm's configured
 * registry), cached for this run only. The scratch project brings its own
 * proto service (generated with protoc-gen-es here), is type-checked by tsc
 * in strict mode with module nodenext and skipLibCheck off, and its program
 * starts two servers with the published connect-server and calls them
 * through the published pool (see scratch/src/main.ts).
 *
 * It runs on the Node that runs the suite; CI runs the suite on every
 * supported line (22, 24, 26), so each line gets its own release test.
 */
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { childProcessEnv, freePort } from "@rngbalance/testkit";
import { packageManagerEnv, run } from "./support/commands.js";
import { type LocalRegistry, startVerdaccio } from "./support/verdaccio.js";
import {
  entryPointSpecifiers,
  type Manifest,
  type ReleaseSet,
  releaseSet,
  type WorkspacePackage,
  workspacePackages,
} from "./support/workspace.js";

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const root = dirname(dirname(packageDir));
const ownManifest = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as Manifest;
const SCOPE = "@rngbalance";
/** Calls the scratch program makes before one pod says NOT_SERVING. */
const CALLS = 20;

/** The version the release test's own workspace install has of `name` (the scratch project pins the same). */
function installedVersion(name: string): string {
  const manifest = join(packageDir, "node_modules", name, "package.json");
  return (JSON.parse(readFileSync(manifest, "utf8")) as Manifest).version;
}

/**
 * Fails, saying why, when the registry cannot get `probe` from its uplink.
 * Verdaccio answers a plain 404 then and logs the cause only at debug
 * level, and npm would go on to report a confusing dependency conflict
 * ("Found: @bufbuild/protobuf@undefined"). The usual cause is a TLS proxy
 * whose CA is in NODE_EXTRA_CA_CERTS on the machine but not in this
 * process's environment (turbo passes only the variables it is told to:
 * see this package's turbo.json).
 */
async function checkUplink(registry: LocalRegistry, uplink: string, probe: string): Promise<void> {
  const path = probe.replace("/", "%2f");
  const res = await fetch(new URL(path, registry.url), { signal: AbortSignal.timeout(60_000) });
  await res.body?.cancel();
  if (res.ok) return;
  const direct = await fetch(new URL(path, uplink), { signal: AbortSignal.timeout(30_000) }).then(
    async (r) => {
      await r.body?.cancel();
      return `answers ${r.status} from here`;
    },
    (err: Error) =>
      `fails from here too: ${err.message}: ${(err.cause as Error | undefined)?.message ?? "?"}`,
  );
  throw new Error(
    `verdaccio cannot get ${probe} from its uplink ${uplink} (it answers ${res.status}); the uplink ${direct}. ` +
      "Behind a proxy or a TLS-intercepting gateway, set HTTPS_PROXY or NODE_EXTRA_CA_CERTS (npm's https-proxy " +
      "and cafile are used too); under turbo they must be listed in packages/release-test/turbo.json's passThroughEnv.",
  );
}

describe("release: publish to a local registry, install with npm, type-check, run", () => {
  let tmp: string;
  let packages: WorkspacePackage[];
  let set: ReleaseSet;
  /** What is published: the public packages. */
  let published: WorkspacePackage[];
  let registry: LocalRegistry | undefined;
  let npmrc: string;
  let npmCache: string;
  let scratch: string;
  /** Set once tsc accepted the scratch project (tsc writes dist/ even when it reports errors). */
  let typeChecked = false;
  const publishWarnings: string[] = [];
  const steps: string[] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const value = await fn();
    steps.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return value;
  };
  const npm = (args: string[], cwd: string, timeoutMs = 120_000) =>
    run("npm", [...args, "--userconfig", npmrc, "--cache", npmCache, "--no-audit", "--no-fund"], {
      cwd,
      env: packageManagerEnv(),
      timeoutMs,
    });

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "rngbalance-release-"));
    npmrc = join(tmp, "npmrc");
    npmCache = join(tmp, "npm-cache");
    scratch = join(tmp, "scratch");
    packages = await step("discover", () => workspacePackages(root));
    set = releaseSet(packages);
    assert.ok(set.public.length > 0, "the workspace has no public package: nothing to release");
    published = [...set.public];

    // Verdaccio's uplink is whatever npm is configured to use here (a mirror, a proxy, a CA).
    const npmConfig = await run("npm", ["config", "get", "registry", "https-proxy", "cafile"], { cwd: root });
    const config = Object.fromEntries(
      npmConfig.stdout
        .trim()
        .split("\n")
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    ) as Record<string, string>;
    const set_ = (v: string | undefined) => (v && v !== "null" && v !== "undefined" ? v : undefined);
    const uplink = set_(config.registry) ?? "https://registry.npmjs.org/";
    const httpsProxy = set_(config["https-proxy"]);
    const caFile = set_(config.cafile);

    const tarballs = join(tmp, "tarballs");
    mkdirSync(tarballs);
    const packed = await step("pnpm pack", () =>
      Promise.all(
        published.map(async (p) => {
          const { stdout } = await run("pnpm", ["pack", "--pack-destination", tarballs, "--json"], {
            cwd: p.dir,
          });
          return { pkg: p, tarball: (JSON.parse(stdout) as { filename: string }).filename };
        }),
      ),
    );

    const verdaccioDir = join(tmp, "verdaccio");
    mkdirSync(verdaccioDir);
    const started = await step("start verdaccio", () =>
      startVerdaccio({
        dir: verdaccioDir,
        scope: SCOPE,
        uplink,
        ...(httpsProxy ? { httpsProxy } : {}),
        ...(caFile ? { caFile } : {}),
      }),
    );
    registry = started;
    await step("uplink check", () => checkUplink(started, uplink, "@bufbuild/protobuf"));
    const host = new URL(started.url).host;
    writeFileSync(
      npmrc,
      [`registry=${started.url}`, `//${host}/:_authToken=${started.token}`, "update-notifier=false", ""].join(
        "\n",
      ),
    );

    await step("npm publish", () =>
      Promise.all(
        packed.map(async ({ pkg, tarball }) => {
          const { stderr } = await npm(["publish", tarball, "--access", "public", "--ignore-scripts"], tmp);
          const warnings = stderr
            .split("\n")
            .filter((l) => /\bwarn\b/i.test(l))
            .map((l) => `${pkg.manifest.name}: ${l.trim()}`);
          publishWarnings.push(...warnings);
        }),
      ),
    );
  });

  after(async () => {
    try {
      await registry?.stop();
    } finally {
      if (tmp && !process.env.RELEASE_TEST_KEEP) rmSync(tmp, { recursive: true, force: true });
      else if (tmp) console.log(`release test: kept ${tmp} (RELEASE_TEST_KEEP)`);
    }
  });

  it("no public package needs a private workspace package at runtime", (t) => {
    t.diagnostic(`public: ${set.public.map((p) => p.manifest.name).join(", ")}`);
    const problems = [...set.privateRuntimeDeps].map(
      ([name, d]) =>
        `${name} is private but ${d.neededBy.join(" and ")} need${d.neededBy.length === 1 ? "s" : ""} it at runtime`,
    );
    assert.deepEqual(
      problems,
      [],
      "a real registry would not have them: make them public or drop the dependency",
    );
  });

  it("every published package is built before this test (turbo's ^build reaches it from this package)", () => {
    // turbo builds this package's workspace dependencies, and theirs, before its tests.
    const byName = new Map(packages.map((p) => [p.manifest.name, p.manifest]));
    const reached = new Set<string>();
    const visit = (m: Manifest | undefined) => {
      for (const name of Object.keys({ ...m?.dependencies, ...m?.devDependencies, ...m?.peerDependencies })) {
        if (!byName.has(name) || reached.has(name)) continue;
        reached.add(name);
        visit(byName.get(name));
      }
    };
    visit(ownManifest);
    const missing = published.map((p) => p.manifest.name).filter((n) => !reached.has(n));
    assert.deepEqual(
      missing,
      [],
      `add them to ${join(packageDir, "package.json")} as "workspace:*" devDependencies`,
    );
  });

  it("npm publish: the registry serves each package at its version, with no workspace: range left", async (t) => {
    for (const w of publishWarnings) t.diagnostic(`npm publish: ${w}`);
    assert.ok(registry, "verdaccio is not running");
    for (const p of published) {
      const res = await fetch(new URL(p.manifest.name.replace("/", "%2f"), registry.url), {
        headers: { authorization: `Bearer ${registry.token}` },
      });
      assert.equal(res.status, 200, `${p.manifest.name} is not in the registry`);
      const doc = (await res.json()) as {
        "dist-tags": Record<string, string>;
        versions: Record<string, Manifest & { dist: { integrity?: string } }>;
      };
      assert.equal(doc["dist-tags"].latest, p.manifest.version, p.manifest.name);
      const version = doc.versions[p.manifest.version];
      assert.ok(version?.dist.integrity, `${p.manifest.name}@${p.manifest.version} has no tarball integrity`);
      const ranges = {
        ...version.dependencies,
        ...version.peerDependencies,
        ...version.optionalDependencies,
      };
      const left = Object.entries(ranges).filter(([, spec]) => spec.startsWith("workspace:"));
      assert.deepEqual(left, [], `${p.manifest.name}: pnpm pack must rewrite workspace: ranges`);
    }
  });

  it("npm install into a scratch project: each published package once, at its version", async (t) => {
    cpSync(join(packageDir, "scratch"), scratch, { recursive: true });
    // A consumer depends on the public packages, and on the libraries it
    // imports itself (the versions this workspace is tested with). Peers it
    // does not list (e.g. @opentelemetry/api) are installed by npm itself.
    const dependencies = Object.fromEntries([
      ...set.public.map((p) => [p.manifest.name, p.manifest.version]),
      ...["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-node", "@types/node"].map((n) => [
        n,
        installedVersion(n),
      ]),
    ]);
    writeFileSync(
      join(scratch, "package.json"),
      `${JSON.stringify({ name: "release-scratch", version: "1.0.0", private: true, type: "module", dependencies }, null, 2)}\n`,
    );
    const install = await step("npm install", () =>
      npm(["install", "--loglevel=error"], scratch, 180_000).catch((err: Error) => {
        // Most install failures start at the registry (an uplink error, a 404): add what it logged.
        err.message += `\n--- verdaccio's log (last 40 lines)\n${registry?.output().split("\n").slice(-40).join("\n")}`;
        throw err;
      }),
    );
    if (install.stderr.trim()) t.diagnostic(`npm install said: ${install.stderr.trim()}`);
    for (const p of published) {
      const installed = join(scratch, "node_modules", p.manifest.name, "package.json");
      assert.ok(existsSync(installed), `${p.manifest.name} was not installed`);
      assert.equal((JSON.parse(readFileSync(installed, "utf8")) as Manifest).version, p.manifest.version);
    }
    // One copy of each published package and of the protobuf runtime: two
    // copies of @bufbuild/protobuf would mean two registries of message
    // types, and a pinned dependency where a peer belongs.
    const ls = await npm(["ls", "--all", "--json"], scratch);
    const copies = new Map<string, Set<string>>();
    const walk = (deps: Record<string, { version?: string; dependencies?: object }> | undefined) => {
      for (const [name, d] of Object.entries(deps ?? {})) {
        if (d.version) copies.set(name, (copies.get(name) ?? new Set()).add(d.version));
        walk(d.dependencies as typeof deps);
      }
    };
    walk((JSON.parse(ls.stdout) as { dependencies?: Record<string, { version?: string }> }).dependencies);
    for (const name of [
      ...published.map((p) => p.manifest.name),
      "@bufbuild/protobuf",
      "@connectrpc/connect",
    ]) {
      assert.equal(
        copies.get(name)?.size,
        1,
        `${name}: versions installed: ${[...(copies.get(name) ?? [])]}`,
      );
    }
  });

  it("tsc (strict, module nodenext, skipLibCheck off) accepts the scratch project and every entry point", async (t) => {
    assert.ok(existsSync(join(scratch, "node_modules")), "the install step failed");
    // Every entry point of every public package, imported by name, so that
    // its types and its files are checked as a consumer resolves them.
    const specifiers = set.public.flatMap((p) =>
      entryPointSpecifiers(
        JSON.parse(
          readFileSync(join(scratch, "node_modules", p.manifest.name, "package.json"), "utf8"),
        ) as Manifest,
      ),
    );
    t.diagnostic(`entry points: ${specifiers.join(", ")}`);
    writeFileSync(
      join(scratch, "src", "entry-points.ts"),
      [
        "// Written by the release test: every entry point of every published package.",
        ...specifiers.map((s, i) => `import * as e${i} from "${s}";`),
        "",
        "export const entryPoints: Record<string, object> = {",
        ...specifiers.map((s, i) => `  "${s}": e${i},`),
        "};",
        "",
      ].join("\n"),
    );
    writeFileSync(
      join(scratch, "buf.gen.yaml"),
      [
        "version: v2",
        "inputs:",
        "  - directory: proto",
        "plugins:",
        `  - local: ${JSON.stringify(join(packageDir, "node_modules", ".bin", "protoc-gen-es"))}`,
        "    out: src/gen",
        "    opt: [target=ts, import_extension=js]",
        "",
      ].join("\n"),
    );
    await step("buf generate", () =>
      run(join(packageDir, "node_modules", ".bin", "buf"), ["generate"], {
        cwd: scratch,
        env: childProcessEnv({ BUF_CACHE_DIR: join(tmp, "buf-cache") }),
      }),
    );
    await step("tsc", () =>
      run(
        process.execPath,
        [join(packageDir, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"],
        {
          cwd: scratch,
        },
      ),
    );
    assert.ok(existsSync(join(scratch, "dist", "main.js")), "tsc wrote no dist/main.js");
    typeChecked = true;
  });

  it(`runs: two pods, ${CALLS} calls through the pool reach both, a NOT_SERVING pod gets none, every entry point loads`, async (t) => {
    assert.ok(typeChecked, "the type-check step failed");
    const port = await freePort("127.0.0.2");
    const result = await step("run", () =>
      run(process.execPath, ["dist/main.js", String(port), String(CALLS)], {
        cwd: scratch,
        timeoutMs: 30_000,
      }),
    );
    if (result.stderr.trim()) t.diagnostic(`stderr: ${result.stderr.trim()}`);
    const out = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "") as {
      answeredBy: Record<string, number>;
      afterNotServing: number;
      exportsPerEntryPoint: Record<string, number>;
    };
    t.diagnostic(`answered by: ${JSON.stringify(out.answeredBy)}`);
    assert.deepEqual(Object.keys(out.answeredBy).sort(), ["127.0.0.2", "127.0.0.3"], "both pods answer");
    assert.equal(
      Object.values(out.answeredBy).reduce((a, b) => a + b, 0),
      CALLS,
    );
    assert.equal(out.afterNotServing, 10, "10 calls in a row to the serving pod");
    const empty = Object.entries(out.exportsPerEntryPoint).filter(([, n]) => n === 0);
    assert.deepEqual(empty, [], "entry points that export nothing");
    t.diagnostic(`steps: ${steps.join(", ")}`);
  });
});
