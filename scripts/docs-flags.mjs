#!/usr/bin/env node
// The READMEs' flag tables, generated from the programs' own flag specs
// (the ones their parsers and --help use), so the docs cannot drift.
// A table sits between `<!-- flags:NAME -->` and `<!-- /flags:NAME -->`.
//   node scripts/docs-flags.mjs          rewrite every table
//   node scripts/docs-flags.mjs --check  exit 1 if any table differs
// Reads the built packages (dist/): build first (scripts/check-generated.sh does).
import { readFileSync, writeFileSync } from "node:fs";

const root = new URL("..", import.meta.url);
const load = (path) => import(new URL(path, root).href);
const { renderFlagMarkdown } = await load("packages/cli/dist/index.js");
const tables = {
  // The rng-server bin is apps/server's; its flags are the library's, which the bin runs.
  "rng-server": (await load("packages/rng-server/dist/index.js")).SERVER_FLAGS,
  "rng-client": (await load("apps/client/dist/flags.js")).CLIENT_FLAGS,
  demo: (await load("apps/demo/dist/flags.js")).DEMO_FLAGS,
  bench: (await load("apps/bench/dist/flags.js")).BENCH_FLAGS,
};
const files = [
  "README.md",
  "apps/server/README.md",
  "apps/client/README.md",
  "apps/demo/README.md",
  "apps/bench/README.md",
];

const check = process.argv.includes("--check");
const block = /<!-- flags:([a-z-]+) -->\n[\s\S]*?<!-- \/flags:\1 -->/g;
const used = new Set();
const drifted = [];
for (const file of files) {
  const url = new URL(file, root);
  const text = readFileSync(url, "utf8");
  const next = text.replace(block, (whole, name) => {
    const flags = tables[name];
    if (flags === undefined)
      throw new Error(`${file}: no flag table named "${name}" (known: ${Object.keys(tables).join(", ")})`);
    used.add(name);
    const fresh = `<!-- flags:${name} -->\n${renderFlagMarkdown(flags)}\n<!-- /flags:${name} -->`;
    if (fresh !== whole) drifted.push(`${file}: ${name}`);
    return fresh;
  });
  if (!check && next !== text) writeFileSync(url, next);
}
const unused = Object.keys(tables).filter((name) => !used.has(name));
if (unused.length > 0) {
  console.error(`no README embeds the flag table(s) ${unused.join(", ")}`);
  process.exit(1);
}
if (check && drifted.length > 0) {
  console.error(
    `flag tables drifted from the programs' flags: run 'pnpm docs:flags' and commit\n  ${drifted.join("\n  ")}`,
  );
  process.exit(1);
}
console.log(check ? "flag tables match the programs' flags" : `flag tables: ${drifted.length} rewritten`);
