#!/usr/bin/env bash
# Fails when the committed stubs in packages/proto/src/gen differ from what
# `buf generate` makes from proto/ (someone edited a .proto and forgot to
# regenerate, or edited generated code by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
pnpm exec buf generate
if ! git diff --exit-code --stat -- packages/proto/src/gen || [ -n "$(git status --porcelain -- packages/proto/src/gen)" ]; then
  echo "generated code drifted from proto/: run 'pnpm generate' and commit packages/proto/src/gen" >&2
  git status --porcelain -- packages/proto/src/gen >&2
  exit 1
fi
echo "generated code matches proto/"

# The READMEs' flag tables against the programs' flag specs (scripts/docs-flags.mjs
# reads the built packages).
pnpm exec turbo run build --filter=@rngbalance/client... --filter=@rngbalance/demo... \
  --filter=@rngbalance/bench... --filter=@rngbalance/rng-server... --output-logs=errors-only
node scripts/docs-flags.mjs --check
