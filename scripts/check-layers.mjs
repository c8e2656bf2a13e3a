#!/usr/bin/env node
// Checks that no import in a package runs from a lower layer to a higher one.
//
// Each checked package has a `layers.json` beside its package.json:
//
//   { "root": "src", "layers": [ { "name": "core", "paths": ["core/"] }, ... ] }
//
// Layers are listed lowest first. A path ending in "/" places every file under
// that folder; any other path places one file. Every source file under `root`
// must be placed in exactly one layer, so a new file cannot slip past the rule.
// A file may import files of its own layer and of layers listed before it;
// an import of a layer listed after it fails the check. `import type` counts
// too: a type import is still a dependency a reader has to follow.
//
// Usage: node scripts/check-layers.mjs [package-dir ...]
// (no arguments: every packages/*/layers.json and apps/*/layers.json)
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function packagesWithLayers() {
  return ["packages", "apps"].flatMap((top) =>
    readdirSync(join(repo, top))
      .map((name) => join(repo, top, name))
      .filter((p) => existsSync(join(p, "layers.json"))),
  );
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|cts)$/.test(entry) && !entry.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Relative module specifiers of one file: static, re-export, side-effect and dynamic imports. */
function relativeImports(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const specs = [];
  const patterns = [
    /\b(?:import|export)\s[^'";]*?\sfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) if (m[1].startsWith(".")) specs.push(m[1]);
  }
  return specs;
}

/** The source file a relative specifier names (".js" in specifiers stands for ".ts"). */
function resolveSpecifier(from, spec) {
  const base = resolve(dirname(from), spec);
  const candidates = [
    base.replace(/\.js$/, ".ts"),
    base.replace(/\.mjs$/, ".mts"),
    base,
    `${base}.ts`,
    join(base, "index.ts"),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

function checkPackage(pkgDir) {
  const config = JSON.parse(readFileSync(join(pkgDir, "layers.json"), "utf8"));
  const root = join(pkgDir, config.root ?? "src");
  const layerOf = (file) => {
    const rel = relative(root, file).split("\\").join("/");
    const hits = [];
    config.layers.forEach((layer, index) => {
      for (const p of layer.paths) {
        if (p.endsWith("/") ? rel.startsWith(p) : rel === p) hits.push(index);
      }
    });
    return { rel, hits };
  };
  const problems = [];
  const files = sourceFiles(root);
  for (const file of files) {
    const { rel, hits } = layerOf(file);
    if (hits.length !== 1) {
      problems.push(
        hits.length === 0
          ? `${rel} is in no layer: add it (or its folder) to a layer in layers.json`
          : `${rel} is in ${hits.length} layers (${hits.map((i) => config.layers[i].name).join(", ")}): place it in one`,
      );
      continue;
    }
    const own = hits[0];
    for (const spec of relativeImports(readFileSync(file, "utf8"))) {
      const target = resolveSpecifier(file, spec);
      if (target === undefined) {
        problems.push(`${rel} imports "${spec}", which names no file`);
        continue;
      }
      if (!target.startsWith(root)) continue;
      const { rel: targetRel, hits: targetHits } = layerOf(target);
      if (targetHits.length !== 1) continue; // reported for the file itself
      if (targetHits[0] > own) {
        problems.push(
          `${rel} (layer ${config.layers[own].name}) imports ${targetRel} (layer ${config.layers[targetHits[0]].name}), a higher layer`,
        );
      }
    }
  }
  return { files: files.length, problems };
}

const dirs = process.argv.length > 2 ? process.argv.slice(2).map((d) => resolve(d)) : packagesWithLayers();
let failed = false;
for (const dir of dirs) {
  const name = relative(repo, dir);
  const { files, problems } = checkPackage(dir);
  if (problems.length > 0) {
    failed = true;
    console.error(`${name}: ${problems.length} layer violation(s)`);
    for (const p of problems) console.error(`  ${p}`);
  } else {
    console.log(`${name}: ${files} files, no import runs up a layer`);
  }
}
process.exit(failed ? 1 : 0);
