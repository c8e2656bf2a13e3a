/**
 * Checks of the top-level Dockerfile and .dockerignore without a Docker
 * engine: parsed with dockerfile-ast, linted with dockerfile-utils (the
 * parser and linter of the Dockerfile language server), then checked against
 * the repository: COPY sources, stages, the pnpm workspace, the apps' entry
 * points and signal handling, and the Kubernetes pods' user.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { DockerfileParser, type JSONInstruction, type ModifiableInstruction } from "dockerfile-ast";
import { validate } from "dockerfile-utils";
import { parse as parseYaml } from "yaml";

export interface Instruction {
  keyword: string;
  /** The arguments as written, continuations joined. */
  text: string;
  /** Words that are not flags. */
  args: string[];
  flags: Record<string, string | null>;
  /** The exec (JSON) form's strings, or undefined for the shell form. */
  exec: string[] | undefined;
  line: number;
}

export interface Stage {
  name: string;
  image: string;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages. */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const i of DockerfileParser.parse(text).getInstructions()) {
    const keyword = i.getKeyword().toUpperCase();
    const m = i as ModifiableInstruction;
    const flags: Record<string, string | null> = {};
    for (const f of typeof m.getFlags === "function" ? m.getFlags() : []) flags[f.getName()] = f.getValue();
    const j = i as JSONInstruction;
    const json = typeof j.getJSONStrings === "function" ? j.getJSONStrings() : [];
    const instruction: Instruction = {
      keyword,
      text: i.getArgumentsContent() ?? "",
      args: i.getArguments().map((a) => a.getValue()),
      flags,
      exec: json.length > 0 ? json.map((s) => s.getJSONValue()) : undefined,
      line: i.getRange().start.line + 1,
    };
    if (keyword === "FROM") {
      const [image = "", as, name] = instruction.args;
      stages.push({
        name: as?.toUpperCase() === "AS" && name ? name : String(stages.length),
        image,
        instructions: [],
      });
    } else {
      const stage = stages.at(-1);
      if (stage) stage.instructions.push(instruction);
    }
  }
  return stages;
}

/** Docker's .dockerignore semantics: paths relative to the context, `**`, `*`, `?`, `!` exceptions, last match wins. */
export function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const negate = l.startsWith("!");
      const pattern = (negate ? l.slice(1) : l).trim().replace(/^\/+/, "").replace(/\/+$/, "");
      let re = "";
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i] as string;
        if (c === "*" && pattern[i + 1] === "*") {
          i++;
          if (pattern[i + 1] === "/") {
            i++;
            re += "(?:.*/)?";
          } else re += ".*";
        } else if (c === "*") re += "[^/]*";
        else if (c === "?") re += "[^/]";
        else if (c === "\\" && i + 1 < pattern.length) re += `\\${pattern[++i]}`;
        else re += /[.+^${}()|[\]]/.test(c) ? `\\${c}` : c;
      }
      return { negate, re: new RegExp(`^${re}$`) };
    });
  return (path: string) => {
    // A path is excluded when it, or a directory above it, is matched by the last matching rule.
    const parts = path.replace(/^\.\//, "").split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((p) => rule.re.test(p))) excluded = !rule.negate;
    }
    return excluded;
  };
}

/** A workspace package: its directory (relative to the root) and manifest. */
export interface WorkspacePackage {
  dir: string;
  manifest: {
    name: string;
    scripts?: Record<string, string>;
    files?: string[];
    bin?: Record<string, string> | string;
    dependencies?: Record<string, string>;
    exports?: string | Record<string, string | { types?: string; default?: string }>;
  };
}

/** The packages pnpm-workspace.yaml names (globs `dir/*` and plain directories). */
export function workspacePackages(root: string): WorkspacePackage[] {
  const workspace = parseYaml(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as {
    packages: string[];
  };
  const dirs: string[] = [];
  for (const glob of workspace.packages) {
    if (glob.endsWith("/*")) {
      const parent = glob.slice(0, -2);
      for (const d of readdirSync(join(root, parent)).sort()) dirs.push(`${parent}/${d}`);
    } else if (!/[*?[{!]/.test(glob)) dirs.push(glob);
    else throw new Error(`pnpm-workspace.yaml: unsupported glob ${glob}`);
  }
  return dirs
    .filter((d) => existsSync(join(root, d, "package.json")))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) }));
}

const listed = new Map<string, string[]>();

/** Files of the repository that belong in a build context: git's view (tracked and untracked, not ignored), else a walk. */
function repositoryFiles(root: string): string[] {
  let files = listed.get(root);
  if (files) return files;
  try {
    const out = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    files = out.split("\n").filter((f) => f !== "" && existsSync(join(root, f)));
  } catch {
    files = [];
    const walk = (d: string) => {
      for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
        if (["node_modules", "dist", ".git", ".turbo"].includes(e.name)) continue;
        const p = d === "" ? e.name : `${d}/${e.name}`;
        if (e.isDirectory()) walk(p);
        else files?.push(p);
      }
    };
    walk("");
  }
  listed.set(root, files);
  return files;
}

/** Source files at or under `path` (relative to the root). */
export function sourceFiles(root: string, path: string): string[] {
  return repositoryFiles(root).filter((f) => path === "." || f === path || f.startsWith(`${path}/`));
}

/** Everything the Dockerfile must agree with. */
export interface DockerContext {
  root: string;
  dockerignore: string;
  packages: WorkspacePackage[];
  /**
   * The root package.json; its "packageManager" is e.g. pnpm@10.34.9, its
   * "nodeLines" the supported Node lines, "default" the one the images run.
   */
  rootManifest: WorkspacePackage["manifest"] & {
    packageManager: string;
    nodeLines: { default: string } & Record<string, string>;
  };
  /** pnpm-workspace.yaml sets injectWorkspacePackages (then deploy needs no --legacy). */
  injectWorkspacePackages: boolean;
  /** The patch files pnpm-workspace.yaml's patchedDependencies names: pnpm install applies them. */
  patchFiles: string[];
  /** The uid the Kubernetes pods run as (securityContext.runAsUser). */
  podUser: number | undefined;
  /** The port rng-server listens on and the manifests use. */
  serverPort: number;
  /** The runtime targets and the apps they run: target name -> app directory. */
  apps: Record<string, string>;
  /**
   * The source of an app's entry point (apps/x/src/main.ts) and of the
   * workspace modules it imports (see {@link entrySources}), "" if there is none.
   */
  mainSource: (appDir: string) => string;
}

/** Reads the context from the repository. */
export function dockerContext(root: string, podUser: number | undefined, serverPort: number): DockerContext {
  const workspace = parseYaml(readFileSync(join(root, "pnpm-workspace.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  const packages = workspacePackages(root);
  return {
    root,
    dockerignore: readFileSync(join(root, ".dockerignore"), "utf8"),
    packages,
    rootManifest: JSON.parse(readFileSync(join(root, "package.json"), "utf8")),
    injectWorkspacePackages: workspace.injectWorkspacePackages === true,
    patchFiles: Object.values((workspace.patchedDependencies ?? {}) as Record<string, string>),
    podUser,
    serverPort,
    apps: { server: "apps/server", client: "apps/client" },
    mainSource: (appDir) => entrySources(root, packages, `${appDir}/src/main.ts`).join("\n"),
  };
}

/** `import ... from "x"`, `export ... from "x"` and `import "x"`: the static imports of a module. */
const STATIC_IMPORT = /^\s*(?:import|export)\s(?:[^;"']*?\sfrom\s*)?["']([^"']+)["']/gm;

/**
 * The sources of an entry point (relative to the root) and of every
 * workspace module it imports, statically and transitively, entry first:
 * relative imports, and imports of workspace packages by name (through
 * their "exports", a built `./dist/x.js` read as its source `src/x.ts`).
 * An app's entry may be a thin call into a package's `main`, which is
 * where its signal handlers are; third-party modules are not followed.
 * Empty if the entry does not exist.
 */
export function entrySources(root: string, packages: WorkspacePackage[], entry: string): string[] {
  const sources: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const path = join(root, file);
    if (!existsSync(path)) return;
    const text = readFileSync(path, "utf8");
    sources.push(text);
    for (const [, spec] of text.matchAll(STATIC_IMPORT)) {
      const target = spec?.startsWith(".")
        ? join(dirname(file), spec).replace(/\.js$/, ".ts")
        : workspaceModule(packages, spec ?? "");
      if (target !== undefined) visit(target);
    }
  };
  visit(entry);
  return sources;
}

/** The source file (relative to the root) a workspace package's import specifier names, if any. */
function workspaceModule(packages: WorkspacePackage[], spec: string): string | undefined {
  const p = packages.find((q) => spec === q.manifest.name || spec.startsWith(`${q.manifest.name}/`));
  if (!p) return undefined;
  const subpath = `.${spec.slice(p.manifest.name.length)}`;
  const { exports } = p.manifest;
  const target = typeof exports === "string" ? (subpath === "." ? exports : undefined) : exports?.[subpath];
  const built = typeof target === "string" ? target : target?.default;
  const m = built === undefined ? null : /^\.\/dist\/(.+)\.js$/.exec(built);
  return m ? `${p.dir}/src/${m[1]}.ts` : undefined;
}

const ROOT_MANIFESTS = ["package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"];
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall", "prepare"];
/** The images' base: the slim image of the default Node line (package.json "nodeLines"), e.g. node:24-slim. */
const baseImage = (ctx: DockerContext) => `node:${ctx.rootManifest.nodeLines.default}-slim`;

/** Every problem with the Dockerfile, as sentences; none means it passes. */
export function checkDockerfile(text: string, ctx: DockerContext): string[] {
  const problems: string[] = [];
  for (const d of validate(text)) problems.push(`lint: ${d.message} (line ${d.range.start.line + 1})`);
  const stages = parseDockerfile(text);
  const names = stages.map((s) => s.name);
  const ignored = dockerignore(ctx.dockerignore);
  const byName = new Map(ctx.packages.map((p) => [p.manifest.name, p]));
  const base = baseImage(ctx);

  for (const [i, stage] of stages.entries()) {
    if (!names.slice(0, i).includes(stage.image) && stage.image !== base)
      problems.push(`stage ${stage.name} is FROM ${stage.image}, not ${base}`);
    for (const ins of stage.instructions) {
      if (ins.keyword !== "COPY" && ins.keyword !== "ADD") continue;
      const sources = ins.exec ? ins.exec.slice(0, -1) : ins.args.slice(0, -1);
      const from = ins.flags.from;
      if (from !== undefined) {
        if (from === null || !names.slice(0, i).includes(from))
          problems.push(`line ${ins.line}: COPY --from=${from}: no earlier stage of that name`);
        continue;
      }
      for (const s of sources) {
        const rel = s.replace(/^\.\//, "").replace(/\/$/, "") || ".";
        if (!existsSync(join(ctx.root, rel))) {
          problems.push(`line ${ins.line}: COPY source ${s} does not exist`);
          continue;
        }
        if (rel !== "." && ignored(rel)) {
          problems.push(`line ${ins.line}: COPY source ${s} is excluded by .dockerignore`);
          continue;
        }
        const dropped = sourceFiles(ctx.root, rel).filter((f) => ignored(f));
        if (dropped.length > 0)
          problems.push(
            `line ${ins.line}: .dockerignore drops source files under ${s}: ${dropped.slice(0, 3).join(", ")}`,
          );
      }
    }
  }

  // The build stage: pnpm at the pinned version, manifests before the install, then deploy.
  const runs = stages.flatMap((s) =>
    s.instructions.filter((x) => x.keyword === "RUN").map((x) => ({ stage: s, ...x })),
  );
  const pnpmVersion = ctx.rootManifest.packageManager.replace(/^pnpm@/, "").replace(/\+.*$/, "");
  const pnpmInstalls = runs.filter((r) => /\bpnpm@/.test(r.text));
  if (pnpmInstalls.length === 0) problems.push("pnpm is never installed (npm install -g pnpm@...)");
  for (const r of pnpmInstalls) {
    const v = /\bpnpm@(\S+)/.exec(r.text)?.[1];
    if (v !== pnpmVersion) problems.push(`pnpm@${v} differs from packageManager pnpm@${pnpmVersion}`);
  }
  if (runs.some((r) => /\bcorepack\b/.test(r.text)))
    problems.push("corepack needs its signature keys online: install pnpm with npm instead");
  const install = runs.find((r) => /\bpnpm (?:install|i)\b/.test(r.text));
  if (!install) problems.push("no pnpm install");
  else {
    if (!/--frozen-lockfile\b/.test(install.text)) problems.push("pnpm install is not --frozen-lockfile");
    const before = install.stage.instructions.slice(
      0,
      install.stage.instructions.findIndex((x) => x.line === install.line),
    );
    const copiedBefore = before
      .filter((x) => x.keyword === "COPY" && x.flags.from === undefined)
      .flatMap((x) => {
        const words = x.exec ?? x.args;
        const dest = words.at(-1) ?? "";
        return words.slice(0, -1).map((s) => ({ source: s.replace(/^\.\//, ""), dest }));
      });
    for (const f of ROOT_MANIFESTS) {
      if (!copiedBefore.some((c) => c.source === f)) problems.push(`${f} is not copied before pnpm install`);
    }
    // A patched dependency's patch must be there when pnpm install applies it (--frozen-lockfile fails without it).
    for (const f of ctx.patchFiles) {
      if (!copiedBefore.some((c) => c.source === f))
        problems.push(`${f} (patchedDependencies) is not copied before pnpm install`);
    }
    for (const p of ctx.packages) {
      const manifest = `${p.dir}/package.json`;
      if (!copiedBefore.some((c) => c.source === manifest && c.dest.replace(/\/$/, "") === p.dir))
        problems.push(`${manifest} is not copied to ${p.dir}/ before pnpm install`);
    }
    for (const c of copiedBefore) {
      const rel = c.source.replace(/\/$/, "") || ".";
      if (existsSync(join(ctx.root, rel)) && statSync(join(ctx.root, rel)).isDirectory())
        problems.push(`directory ${c.source} is copied before pnpm install: any source change reinstalls`);
    }
  }
  for (const p of [{ dir: ".", manifest: ctx.rootManifest }, ...ctx.packages]) {
    for (const s of INSTALL_SCRIPTS) {
      if (p.manifest.scripts?.[s] !== undefined)
        problems.push(
          `${p.dir}/package.json has a "${s}" script, which pnpm install runs before the sources are copied`,
        );
    }
  }

  // Each runtime target: a pnpm deploy --prod of its app, copied from an earlier stage, run as non-root.
  for (const [target, appDir] of Object.entries(ctx.apps)) {
    const stage = stages.find((s) => s.name === target);
    if (!stage) {
      problems.push(`no stage ${target}`);
      continue;
    }
    const app = ctx.packages.find((p) => p.dir === appDir);
    if (!app) {
      problems.push(`${appDir} is not a workspace package`);
      continue;
    }
    const out = `/out/${target}`;
    const deploy = runs.find((r) =>
      r.text
        .split("&&")
        .some(
          (cmd) =>
            /\bpnpm\b.*\bdeploy\b/.test(cmd) &&
            cmd.includes(app.manifest.name) &&
            new RegExp(`${out}\\b`).test(cmd),
        ),
    );
    const deployCmd = deploy?.text
      .split("&&")
      .find((cmd) => cmd.includes(app.manifest.name) && cmd.includes(out));
    if (!deployCmd) problems.push(`no pnpm deploy of ${app.manifest.name} to ${out}`);
    else {
      if (!/(?:--prod|-P)\b/.test(deployCmd))
        problems.push(`pnpm deploy of ${app.manifest.name} is not --prod: dev dependencies would ship`);
      if (!/--legacy\b/.test(deployCmd) && !ctx.injectWorkspacePackages)
        problems.push(
          `pnpm deploy of ${app.manifest.name}: pnpm 10 needs --legacy (or injectWorkspacePackages)`,
        );
    }
    // pnpm deploy copies a package's "files": the app and its workspace dependencies must ship dist/.
    const seen = new Set<string>();
    const shipsDist = (p: WorkspacePackage) => {
      if (seen.has(p.manifest.name)) return;
      seen.add(p.manifest.name);
      if (p.manifest.files && !p.manifest.files.some((f) => f === "dist" || f.startsWith("dist/")))
        problems.push(
          `${p.dir}/package.json "files" leaves out dist/, so pnpm deploy would not copy the build`,
        );
      for (const [dep, spec] of Object.entries(p.manifest.dependencies ?? {})) {
        const ws = byName.get(dep);
        if (ws && spec.startsWith("workspace:")) shipsDist(ws);
      }
    };
    shipsDist(app);

    const copy = stage.instructions.find((x) => x.keyword === "COPY" && (x.exec ?? x.args).includes(out));
    if (!copy) problems.push(`stage ${target} does not copy ${out}`);
    for (const x of stage.instructions) {
      if ((x.keyword === "COPY" || x.keyword === "ADD") && x.flags.from === undefined)
        problems.push(
          `stage ${target} copies from the build context (line ${x.line}): only the deployed app belongs there`,
        );
      if (x.keyword === "RUN" && /\b(?:npm|pnpm|yarn)\s+(?:install|i|ci|add)\b/.test(x.text))
        problems.push(`stage ${target} installs packages (line ${x.line})`);
    }
    const user = stage.instructions.filter((x) => x.keyword === "USER").at(-1)?.args[0];
    const uid = user === undefined ? undefined : /^(\d+)(?::(\d+))?$/.exec(user);
    if (!user || /^(root|0)(:|$)/.test(user)) problems.push(`stage ${target} runs as root`);
    else if (!uid)
      problems.push(`stage ${target}: USER ${user} is not numeric, so runAsNonRoot cannot verify it`);
    else if (ctx.podUser !== undefined && Number(uid[1]) !== ctx.podUser)
      problems.push(`stage ${target}: USER ${user} differs from the pods' runAsUser ${ctx.podUser}`);

    const entry = stage.instructions.filter((x) => x.keyword === "ENTRYPOINT").at(-1);
    const cmd = stage.instructions.filter((x) => x.keyword === "CMD").at(-1);
    if (!entry?.exec) {
      problems.push(
        `stage ${target}: ENTRYPOINT is not in exec form: /bin/sh would be PID 1 and swallow SIGTERM`,
      );
    } else {
      const argv = [...entry.exec, ...(cmd?.exec ?? [])];
      const tini = argv[0] !== undefined && /(?:^|\/)tini$/.test(argv[0]);
      const rest = tini ? argv.slice(argv[1] === "--" ? 2 : 1) : argv;
      const bin =
        typeof app.manifest.bin === "string" ? app.manifest.bin : Object.values(app.manifest.bin ?? {})[0];
      if (rest[0] !== "node" || rest[1] !== "dist/main.js")
        problems.push(`stage ${target} does not run node dist/main.js (runs ${argv.join(" ")})`);
      if (bin?.replace(/^\.\//, "") !== "dist/main.js")
        problems.push(`${appDir}/package.json bin is ${bin}, not the image's dist/main.js`);
      if (tini) {
        if (
          !stage.instructions.some((x) => x.keyword === "RUN" && /apt-get install[^&]*\btini\b/.test(x.text))
        )
          problems.push(`stage ${target} runs tini but does not install it`);
      } else {
        // node is PID 1: the kernel delivers it no default-action signals, so it must handle SIGTERM itself.
        if (!/process\.on\(\s*["']SIGTERM["']/.test(ctx.mainSource(appDir)))
          problems.push(
            `stage ${target}: node is PID 1 but ${appDir}/src/main.ts installs no SIGTERM handler, nor does the workspace code it imports`,
          );
      }
    }
    if (target === "server") {
      const exposed = stage.instructions.filter((x) => x.keyword === "EXPOSE").flatMap((x) => x.args);
      if (!exposed.some((p) => p.replace(/\/tcp$/, "") === String(ctx.serverPort)))
        problems.push(`stage server does not EXPOSE ${ctx.serverPort}`);
    }
  }

  // The context leaves out what must be rebuilt inside: host node_modules, dist, git.
  for (const p of [
    "node_modules/x",
    "packages/proto/node_modules/x",
    "apps/server/dist/main.js",
    ".git/HEAD",
  ]) {
    if (!ignored(p)) problems.push(`.dockerignore does not exclude ${p}`);
  }
  return problems;
}
