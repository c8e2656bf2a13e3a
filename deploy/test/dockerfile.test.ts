import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readContract } from "./checks.js";
import {
  checkDockerfile,
  type DockerContext,
  dockerContext,
  dockerignore,
  entrySources,
  parseDockerfile,
  type WorkspacePackage,
} from "./dockerfile.js";
import { kustomize } from "./kustomize.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const text = readFileSync(`${root}Dockerfile`, "utf8");

/** The uid both Deployments run as: the image's USER must be the same. */
function podUser(): number | undefined {
  const users = kustomize(`${root}deploy/k8s/base`)
    .filter((o) => o.kind === "Deployment")
    .map(
      (o) => (o.spec as { template: { spec: { securityContext?: { runAsUser?: number } } } }).template.spec,
    )
    .map((spec) => spec.securityContext?.runAsUser);
  assert.equal(new Set(users).size, 1, "both Deployments run as one uid");
  return users[0];
}
const context = (): DockerContext => dockerContext(root, podUser(), readContract(root).serverPort);

describe("Dockerfile", () => {
  it("has build, server and client stages and passes every check (lint, sources, workspace, runtime)", () => {
    assert.deepEqual(
      parseDockerfile(text).map((s) => s.name),
      ["build", "server", "client"],
    );
    assert.deepEqual(checkDockerfile(text, context()), []);
  });

  it("copies the manifest of every workspace package that pnpm-workspace.yaml names", () => {
    const dirs = context().packages.map((p) => p.dir);
    for (const d of ["packages/proto", "packages/dns-pool", "apps/server", "apps/client", "deploy"])
      assert.ok(dirs.includes(d), d);
  });

  it(".dockerignore follows Docker's matching rules", () => {
    const ignored = dockerignore("**/node_modules\n/dist\n*.md\n!README.md\nbench/results\n# comment\n");
    assert.equal(ignored("node_modules"), true);
    assert.equal(ignored("apps/server/node_modules/x/index.js"), true);
    assert.equal(ignored("dist/a.js"), true);
    assert.equal(ignored("apps/server/dist/a.js"), false, "/dist is anchored at the context root");
    assert.equal(ignored("CHANGES.md"), true);
    assert.equal(ignored("docs/CHANGES.md"), false, "* does not cross /");
    assert.equal(ignored("README.md"), false, "! re-includes");
    assert.equal(ignored("bench/results/run.json"), true);
    assert.equal(ignored("bench/run.ts"), false);
  });

  const textMutations: [string, (t: string) => string, RegExp][] = [
    [
      "a misspelt instruction (lint)",
      (t) => t.replace('ENTRYPOINT ["node"', 'ENTRYPONT ["node"'),
      /lint: Unknown instruction: ENTRYPONT/,
    ],
    [
      "a missing COPY source",
      (t) => t.replace("apps/server/package.json apps/server/", "apps/nope/package.json apps/nope/"),
      /COPY source apps\/nope\/package\.json does not exist/,
    ],
    [
      "a patched dependency's patch not copied before the install",
      (t) => t.replace(/^COPY patches\/.*\n/m, ""),
      /patches\/@opentelemetry__sdk-metrics@3\.1\.1\.patch \(patchedDependencies\) is not copied before pnpm install/,
    ],
    [
      "an unknown --from stage",
      (t) => t.replace("--from=build /out/server", "--from=builder /out/server"),
      /COPY --from=builder: no earlier stage/,
    ],
    [
      "a --from naming a later stage",
      (t) => t.replace("--from=build /out/server", "--from=client /out/server"),
      /COPY --from=client: no earlier stage/,
    ],
    [
      "another base image",
      (t) => t.replace("FROM node:24-slim AS client", "FROM node:22-alpine AS client"),
      /stage client is FROM node:22-alpine, not node:24-slim/,
    ],
    [
      "a workspace manifest left out before the install",
      (t) => t.replace("COPY apps/demo/package.json apps/demo/\n", ""),
      /apps\/demo\/package\.json is not copied to apps\/demo\/ before pnpm install/,
    ],
    [
      "sources copied before the install (no layer caching)",
      (t) =>
        t.replace(
          "RUN pnpm install --frozen-lockfile\nCOPY proto ./proto",
          "COPY proto ./proto\nRUN pnpm install --frozen-lockfile",
        ),
      /directory proto is copied before pnpm install/,
    ],
    [
      "an install that may change the lockfile",
      (t) => t.replace("pnpm install --frozen-lockfile", "pnpm install"),
      /pnpm install is not --frozen-lockfile/,
    ],
    [
      "another pnpm version",
      (t) => t.replace("pnpm@10.34.9", "pnpm@9.0.0"),
      /pnpm@9\.0\.0 differs from packageManager/,
    ],
    [
      "corepack",
      (t) =>
        t.replace(
          "npm install -g --no-fund --no-audit pnpm@10.34.9",
          "corepack enable && npm i -g pnpm@10.34.9",
        ),
      /corepack needs its signature keys online/,
    ],
    [
      "a deploy with dev dependencies",
      (t) => t.replace("--filter=@rngbalance/client --prod --legacy", "--filter=@rngbalance/client --legacy"),
      /pnpm deploy of @rngbalance\/client is not --prod/,
    ],
    [
      "a deploy pnpm 10 refuses",
      (t) => t.replace("--filter=@rngbalance/server --prod --legacy", "--filter=@rngbalance/server --prod"),
      /pnpm deploy of @rngbalance\/server: pnpm 10 needs --legacy/,
    ],
    [
      "a runtime stage that does not copy its app",
      (t) => t.replace("COPY --from=build /out/client ./", "COPY --from=build /out/server ./"),
      /stage client does not copy \/out\/client/,
    ],
    [
      "a runtime stage that copies from the context",
      (t) =>
        t.replace(
          "COPY --from=build /out/server ./",
          "COPY --from=build /out/server ./\nCOPY apps/server/src ./src",
        ),
      /stage server copies from the build context/,
    ],
    [
      "a runtime stage that installs packages",
      (t) =>
        t.replace(
          "WORKDIR /app\nCOPY --from=build /out/server ./",
          "WORKDIR /app\nCOPY --from=build /out/server ./\nRUN npm install",
        ),
      /stage server installs packages/,
    ],
    [
      "a root runtime stage",
      (t) => t.replace("USER 10001:10001\nEXPOSE", "USER root\nEXPOSE"),
      /stage server runs as root/,
    ],
    [
      "a runtime stage with no USER",
      (t) => t.replace("USER 10001:10001\nSTOPSIGNAL SIGTERM\nENTRYPOINT", "STOPSIGNAL SIGTERM\nENTRYPOINT"),
      /stage client runs as root/,
    ],
    [
      "a user name runAsNonRoot cannot verify",
      (t) => t.replace("USER 10001:10001\nEXPOSE", "USER node\nEXPOSE"),
      /USER node is not numeric/,
    ],
    [
      "a uid other than the pods'",
      (t) => t.replace("USER 10001:10001\nEXPOSE", "USER 1000:1000\nEXPOSE"),
      /USER 1000:1000 differs from the pods' runAsUser 10001/,
    ],
    [
      "a shell-form ENTRYPOINT",
      (t) => t.replace('ENTRYPOINT ["node", "dist/main.js"]\n\nFROM', "ENTRYPOINT node dist/main.js\n\nFROM"),
      /stage server: ENTRYPOINT is not in exec form/,
    ],
    [
      "an entry point other than dist/main.js",
      (t) =>
        t.replace(
          'ENTRYPOINT ["node", "dist/main.js"]\n\nFROM',
          'ENTRYPOINT ["node", "dist/index.js"]\n\nFROM',
        ),
      /stage server does not run node dist\/main\.js/,
    ],
    [
      "tini that is not installed",
      (t) =>
        t.replace(
          'ENTRYPOINT ["node", "dist/main.js"]\n\nFROM',
          'ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/main.js"]\n\nFROM',
        ),
      /stage server runs tini but does not install it/,
    ],
    ["no EXPOSE 8081", (t) => t.replace("EXPOSE 8081", "EXPOSE 8080"), /stage server does not EXPOSE 8081/],
  ];
  for (const [what, mutate, expected] of textMutations) {
    it(`catches ${what}`, () => {
      const changed = mutate(text);
      assert.notEqual(changed, text, "the mutation applies");
      assert.match(checkDockerfile(changed, context()).join("\n"), expected);
    });
  }

  it("accepts tini when the stage installs it", () => {
    const changed = text.replace(
      'WORKDIR /app\nCOPY --from=build /out/server ./\nUSER 10001:10001\nEXPOSE 8081\nSTOPSIGNAL SIGTERM\nENTRYPOINT ["node", "dist/main.js"]',
      'RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*\nWORKDIR /app\nCOPY --from=build /out/server ./\nUSER 10001:10001\nEXPOSE 8081\nSTOPSIGNAL SIGTERM\nENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/main.js"]',
    );
    assert.notEqual(changed, text);
    assert.deepEqual(checkDockerfile(changed, context()), []);
  });

  const contextMutations: [string, (c: DockerContext) => void, RegExp][] = [
    [
      "a .dockerignore that drops committed sources",
      (c) => {
        c.dockerignore += "\n**/gen\n";
      },
      /\.dockerignore drops source files under packages: packages\/grpc-protos\/src\/gen\//,
    ],
    [
      "a .dockerignore that excludes a COPY source",
      (c) => {
        c.dockerignore += "\nbuf.yaml\n";
      },
      /COPY source buf\.yaml is excluded by \.dockerignore/,
    ],
    [
      "a .dockerignore that lets host node_modules and builds in",
      (c) => {
        c.dockerignore = ".git\n";
      },
      /does not exclude packages\/proto\/node_modules\/x[\s\S]*does not exclude apps\/server\/dist\/main\.js/,
    ],
    [
      "a workspace package with an install script (sources are not there yet)",
      (c) => {
        const proto = c.packages.find((p) => p.dir === "packages/proto");
        if (proto) proto.manifest.scripts = { ...proto.manifest.scripts, postinstall: "buf generate" };
      },
      /packages\/proto\/package\.json has a "postinstall" script/,
    ],
    [
      "a new workspace package the Dockerfile does not know",
      (c) => {
        c.packages.push({ dir: "packages/new", manifest: { name: "@rngbalance/new" } });
      },
      /packages\/new\/package\.json is not copied to packages\/new\/ before pnpm install/,
    ],
    [
      "a workspace dependency whose files leave out dist",
      (c) => {
        const pool = c.packages.find((p) => p.dir === "packages/dns-pool");
        if (pool) pool.manifest.files = ["src"];
      },
      /packages\/dns-pool\/package\.json "files" leaves out dist\//,
    ],
    [
      "an app whose bin is not the image's entry point",
      (c) => {
        const s = c.packages.find((p) => p.dir === "apps/server");
        if (s) s.manifest.bin = { "rng-server": "./dist/cli.js" };
      },
      /apps\/server\/package\.json bin is \.\/dist\/cli\.js/,
    ],
    [
      "node as PID 1 with an app that does not handle SIGTERM",
      (c) => {
        c.mainSource = (dir) =>
          dir === "apps/client" ? 'process.on("SIGINT", stop);' : 'process.on("SIGTERM", stop);';
      },
      /stage client: node is PID 1 but apps\/client\/src\/main\.ts installs no SIGTERM handler/,
    ],
    [
      "a server program package whose files leave out dist (the image would have no server)",
      (c) => {
        const program = c.packages.find((p) => p.dir === "packages/rng-server");
        if (program) program.manifest.files = ["src"];
      },
      /packages\/rng-server\/package\.json "files" leaves out dist\//,
    ],
    [
      "a packageManager the image does not install",
      (c) => {
        c.rootManifest = { ...c.rootManifest, packageManager: "pnpm@10.0.0" };
      },
      /pnpm@10\.34\.9 differs from packageManager pnpm@10\.0\.0/,
    ],
    [
      "a default Node line the images do not run",
      (c) => {
        c.rootManifest = { ...c.rootManifest, nodeLines: { ...c.rootManifest.nodeLines, default: "26" } };
      },
      /stage build is FROM node:24-slim, not node:26-slim/,
    ],
  ];
  for (const [what, mutate, expected] of contextMutations) {
    it(`catches ${what}`, () => {
      const c = structuredCloneContext(context());
      mutate(c);
      assert.match(checkDockerfile(text, c).join("\n"), expected);
    });
  }
});

/** A deep copy of the context's data (its functions kept). */
function structuredCloneContext(c: DockerContext): DockerContext {
  const { mainSource, ...data } = c;
  return { ...structuredClone(data), mainSource };
}

describe("entry point sources (where an app's signal handlers are)", () => {
  const SIGTERM = /process\.on\(\s*["']SIGTERM["']/;

  it("follow apps/server's thin entry into @rngbalance/rng-server's main, which handles SIGTERM", () => {
    const own = readFileSync(`${root}apps/server/src/main.ts`, "utf8");
    assert.doesNotMatch(own, SIGTERM, "the app's entry only calls the package's main");
    assert.match(own, /from "@rngbalance\/rng-server"/);
    const sources = entrySources(root, context().packages, "apps/server/src/main.ts");
    assert.equal(sources[0], own);
    assert.ok(sources.some((s) => SIGTERM.test(s)));
    assert.match(context().mainSource("apps/server"), SIGTERM);
  });

  it("follow relative imports and workspace packages' exports (dist/x.js as src/x.ts), nothing else", () => {
    const dir = mkdtempSync(join(tmpdir(), "entry-sources-"));
    const write = (file: string, body: string) => {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), body);
    };
    try {
      write(
        "apps/x/src/main.ts",
        'import { main } from "@acme/program";\nimport "node:fs";\nawait main();\n',
      );
      write("packages/program/src/index.ts", 'export { main } from "./cli.js";\n');
      write(
        "packages/program/src/cli.ts",
        'import {\n  a,\n} from "./a.js";\nexport const main = () => a;\n',
      );
      write("packages/program/src/a.ts", 'process.on("SIGTERM", stop);\n');
      write("packages/program/src/unused.ts", "never read\n");
      const packages: WorkspacePackage[] = [
        {
          dir: "packages/program",
          manifest: {
            name: "@acme/program",
            exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
          },
        },
      ];
      const sources = entrySources(dir, packages, "apps/x/src/main.ts");
      assert.equal(sources.length, 4);
      assert.ok(SIGTERM.test(sources.join("\n")));
      assert.ok(!sources.includes("never read\n"));
      // Without exports the import leads nowhere: only the entry's own source counts.
      const unexported = [{ ...packages[0]!, manifest: { name: "@acme/program" } }];
      assert.deepEqual(entrySources(dir, unexported, "apps/x/src/main.ts").length, 1);
      assert.deepEqual(entrySources(dir, packages, "apps/none/src/main.ts"), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
