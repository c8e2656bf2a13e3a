import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));

interface Stage {
  name: string;
  from: string;
  instructions: { op: string; args: string }[];
}

/** Parses a Dockerfile into stages (line continuations and comments handled). */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [op = "", ...rest] = line.split(/\s+/);
    const args = rest.join(" ");
    if (op.toUpperCase() === "FROM") {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(m, `bad FROM: ${line}`);
      stages.push({ name: m[2] ?? String(stages.length), from: m[1] as string, instructions: [] });
    } else {
      assert.ok(stages.length > 0, `instruction before FROM: ${line}`);
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** Problems with the Dockerfile: missing sources, unknown stages, root runtime stages, wrong entry points. */
function checkDockerfile(text: string): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  const names = stages.map((s) => s.name);
  const pnpmVersion = JSON.parse(readFileSync(`${root}package.json`, "utf8")).packageManager.split("@")[1];
  stages.forEach((stage, i) => {
    for (const { op, args } of stage.instructions) {
      if (op === "COPY") {
        const words = args.split(/\s+/);
        const from = words.find((w) => w.startsWith("--from="))?.slice("--from=".length);
        const paths = words.filter((w) => !w.startsWith("--"));
        const sources = paths.slice(0, -1);
        if (from !== undefined) {
          if (!names.slice(0, i).includes(from))
            problems.push(`COPY --from=${from}: no earlier stage of that name`);
        } else {
          for (const s of sources)
            if (!existsSync(`${root}${s}`)) problems.push(`COPY source ${s} does not exist`);
        }
      }
      if (op === "RUN" && /pnpm@/.test(args) && !args.includes(`pnpm@${pnpmVersion}`)) {
        problems.push(`pnpm version differs from packageManager ${pnpmVersion}`);
      }
    }
    const isRuntime = stage.name === "server" || stage.name === "client";
    if (!isRuntime) return;
    const user = stage.instructions.filter((x) => x.op === "USER").at(-1)?.args;
    if (!user || /^(root|0)(:|$)/.test(user)) problems.push(`stage ${stage.name} runs as root`);
    const entry = stage.instructions.find((x) => x.op === "ENTRYPOINT")?.args ?? "";
    if (!/"node",\s*"dist\/main\.js"/.test(entry))
      problems.push(`stage ${stage.name} does not run node dist/main.js`);
    const copied = stage.instructions.find((x) => x.op === "COPY" && x.args.includes(`/out/${stage.name}`));
    if (!copied) problems.push(`stage ${stage.name} does not copy /out/${stage.name}`);
  });
  for (const target of ["server", "client"]) if (!names.includes(target)) problems.push(`no stage ${target}`);
  return problems;
}

describe("Dockerfile", () => {
  const text = readFileSync(`${root}Dockerfile`, "utf8");

  it("has build, server and client stages; runtime stages run node dist/main.js as non-root", () => {
    assert.deepEqual(
      parseDockerfile(text).map((s) => s.name),
      ["build", "server", "client"],
    );
    assert.deepEqual(checkDockerfile(text), []);
  });

  it("deploys apps whose package.json ships dist/ (pnpm deploy copies only `files`)", () => {
    for (const app of ["server", "client"]) {
      const pkg = JSON.parse(readFileSync(`${root}apps/${app}/package.json`, "utf8"));
      assert.deepEqual(pkg.files, ["dist"]);
      assert.ok(text.includes(`pnpm deploy --filter=${pkg.name} --prod`), `${pkg.name} is deployed`);
    }
  });

  it("copies the manifest of every workspace package before pnpm install --frozen-lockfile", () => {
    const workspace = readFileSync(`${root}pnpm-workspace.yaml`, "utf8");
    assert.match(workspace, /- packages\/\*/);
    for (const dir of [
      "packages/proto",
      "packages/dns-pool",
      "packages/local-fleet",
      "apps/server",
      "apps/client",
      "apps/demo",
      "deploy",
    ]) {
      assert.ok(text.includes(`COPY ${dir}/package.json ${dir}/`), `${dir}/package.json is copied`);
    }
  });

  const mutations: [string, (t: string) => string, RegExp][] = [
    [
      "a missing COPY source",
      (t) => t.replace("apps/server/package.json apps/server/", "apps/nope/package.json apps/nope/"),
      /COPY source apps\/nope\/package\.json does not exist/,
    ],
    [
      "an unknown --from stage",
      (t) => t.replace("--from=build --chown=10001:10001 /out/server", "--from=builder /out/server"),
      /COPY --from=builder: no earlier stage/,
    ],
    [
      "a root runtime stage",
      (t) => t.replace("USER 10001:10001\nEXPOSE", "USER root\nEXPOSE"),
      /stage server runs as root/,
    ],
    ["another pnpm version", (t) => t.replace("pnpm@10.34.9", "pnpm@9.0.0"), /pnpm version differs/],
  ];
  for (const [what, mutate, expected] of mutations) {
    it(`catches ${what}`, () => {
      const changed = mutate(text);
      assert.notEqual(changed, text, "the mutation applies");
      assert.match(checkDockerfile(changed).join("\n"), expected);
    });
  }
});
