import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { kustomize, parseYaml, readYaml, splitImage } from "./kustomize.js";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const fixture = here("fixtures/kustomize/overlay");
const golden = here("fixtures/kustomize/expected.yaml");
const manifests = ["../k8s/base", "../k8s/overlays/example", "../k8s/overlays/monitoring"].map(here);

/** `kubectl kustomize dir`, or undefined when no kubectl is installed. */
function kubectlKustomize(dir: string): string | undefined {
  try {
    return execFileSync("kubectl", ["kustomize", dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
const kubectl = (() => {
  try {
    execFileSync("kubectl", ["version", "--client"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const scratch: string[] = [];
after(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});
/** A copy of the fixture (base and overlay) to change. */
function copyOfFixture(): string {
  const dir = mkdtempSync(join(tmpdir(), "kustomize-"));
  scratch.push(dir);
  cpSync(here("fixtures/kustomize"), dir, { recursive: true });
  return dir;
}
/** A kustomization with the given text next to one ConfigMap. */
function kustomization(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "kustomize-"));
  scratch.push(dir);
  writeFileSync(
    join(dir, "cm.yaml"),
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  a: b\n",
  );
  writeFileSync(join(dir, "kustomization.yaml"), text);
  return dir;
}

describe("kustomize renderer", () => {
  it("renders the feature fixture exactly as kustomize v5 did (expected.yaml), order included", () => {
    assert.deepEqual(kustomize(fixture), readYaml(golden));
  });

  it("kubectl kustomize still renders the fixture as expected.yaml", {
    skip: !kubectl && "no kubectl here",
  }, () => {
    assert.deepEqual(parseYaml(kubectlKustomize(fixture) ?? ""), readYaml(golden));
  });

  it("renders the base and the example overlay as kubectl kustomize does", {
    skip: !kubectl && "no kubectl here",
  }, () => {
    for (const dir of manifests)
      assert.deepEqual(kustomize(dir), parseYaml(kubectlKustomize(dir) ?? ""), dir);
  });

  it("the golden comparison fails when a transformer result changes", () => {
    const dir = copyOfFixture();
    const overlay = join(dir, "overlay/kustomization.yaml");
    writeFileSync(overlay, readFileSync(overlay, "utf8").replace("count: 4", "count: 5"));
    assert.notDeepEqual(kustomize(join(dir, "overlay")), readYaml(golden));
  });

  it("rejects kustomization fields it does not implement, instead of ignoring them", () => {
    assert.throws(
      () => kustomize(kustomization("resources: [cm.yaml]\nnamePrefix: x-\n")),
      /unsupported field\(s\) namePrefix/,
    );
    assert.throws(
      () => kustomize(kustomization("resources: [cm.yaml]\nconfigMapGenerator: []\n")),
      /unsupported field\(s\) configMapGenerator/,
    );
  });

  it("rejects a patch that matches nothing, and a JSON patch whose test fails", () => {
    assert.throws(
      () =>
        kustomize(
          kustomization("resources: [cm.yaml]\npatches:\n  - target: {kind: Deployment}\n    patch: '[]'\n"),
        ),
      /no resource matches the patch target/,
    );
    assert.throws(
      () =>
        kustomize(
          kustomization(
            "resources: [cm.yaml]\npatches:\n  - target: {kind: ConfigMap}\n    patch: |-\n      - op: test\n        path: /data/a\n        value: z\n",
          ),
        ),
      /test of \/data\/a failed/,
    );
  });

  it("applies JSON 6902 add, replace, remove, move and copy", () => {
    const [cm] = kustomize(
      kustomization(`resources: [cm.yaml]
patches:
  - target: {kind: ConfigMap, name: cm}
    patch: |-
      - {op: add, path: /data/b, value: c}
      - {op: replace, path: /data/a, value: z}
      - {op: copy, from: /data/a, path: /data/d}
      - {op: move, from: /data/b, path: /data/e}
      - {op: remove, path: /data/d}
      - {op: add, path: /metadata/labels/new, value: "1"}
`),
    );
    assert.deepEqual(cm?.data, { a: "z", e: "c" });
    assert.deepEqual(cm?.metadata.labels, { new: "1" });
  });

  it("splits image references into name, tag and digest", () => {
    assert.deepEqual(splitImage("rngbalance/server"), { name: "rngbalance/server" });
    assert.deepEqual(splitImage("localhost:5000/a/b:1.2"), { name: "localhost:5000/a/b", tag: "1.2" });
    assert.deepEqual(splitImage("localhost:5000/a@sha256:ff"), {
      name: "localhost:5000/a",
      digest: "sha256:ff",
    });
    assert.deepEqual(splitImage("a:1@sha256:ff"), { name: "a", tag: "1", digest: "sha256:ff" });
  });
});
