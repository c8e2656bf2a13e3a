#!/usr/bin/env bash
# Sets up a fresh machine (Node 20 + npm are enough) and runs a root script:
#   scripts/run.sh demo     the main job: the live load-balancing demo
#   scripts/run.sh test     every test
# pnpm comes from npm into .tools/ (corepack's signature check fails offline),
# at the version the root package.json pins in "packageManager".
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
  if [ "$(.tools/node_modules/.bin/pnpm --version 2>/dev/null || true)" != "$want" ]; then
    echo "installing pnpm $want into .tools/" >&2
    npm install --prefix .tools --no-audit --no-fund --loglevel=error "pnpm@$want" >&2
  fi
  export PATH="$PWD/.tools/node_modules/.bin:$PATH"
fi
# turbo prints a telemetry notice on first run and would phone home; neither belongs in CI logs.
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
pnpm install --frozen-lockfile --reporter=silent
exec pnpm run "$@"
