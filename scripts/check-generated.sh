#!/usr/bin/env bash
# Fails when the committed stubs differ from what `buf generate` makes from
# proto/ (someone edited a .proto and forgot to regenerate, or edited
# generated code by hand), or when a .proto file is generated into neither
# package (each package's buf.gen.yaml lists its proto packages under `types`).
set -euo pipefail
cd "$(dirname "$0")/.."
gen=(packages/grpc-protos/src/gen packages/proto/src/gen)
for dir in "${gen[@]}"; do pnpm exec buf generate --template "${dir%/src/gen}/buf.gen.yaml"; done
if ! git diff --exit-code --stat -- "${gen[@]}" || [ -n "$(git status --porcelain -- "${gen[@]}")" ]; then
  echo "generated code drifted from proto/: run 'pnpm generate' and commit ${gen[*]}" >&2
  git status --porcelain -- "${gen[@]}" >&2
  exit 1
fi
missing=0
while IFS= read -r file; do
  stub=${file#proto/}
  stub=${stub%.proto}_pb.ts
  if [ ! -f "${gen[0]}/$stub" ] && [ ! -f "${gen[1]}/$stub" ]; then
    echo "$file is generated into neither ${gen[0]} nor ${gen[1]}: add its proto package to the 'types' of packages/grpc-protos/buf.gen.yaml (a protocol the libraries use) or packages/proto/buf.gen.yaml (demo)" >&2
    missing=1
  fi
done < <(find proto -name '*.proto' | sort)
[ "$missing" -eq 0 ] || exit 1
echo "generated code matches proto/"

# The READMEs' flag tables against the programs' flag specs (scripts/docs-flags.mjs
# reads the built packages).
pnpm exec turbo run build --filter=@rngbalance/client... --filter=@rngbalance/demo... \
  --filter=@rngbalance/bench... --filter=@rngbalance/rng-server... --output-logs=errors-only
node scripts/docs-flags.mjs --check
