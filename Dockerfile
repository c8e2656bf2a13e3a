# syntax=docker/dockerfile:1
# Images for rng-server and rng-client, from one multi-stage build:
#   docker build --target server -t rngbalance/server .
#   docker build --target client -t rngbalance/client .
# deploy/test/dockerfile.test.ts checks this file against the repository,
# including that every stage is FROM the slim image of the default Node line
# (package.json "nodeLines": 24).

FROM node:24-slim AS build
# pnpm from npm, at the version package.json pins in "packageManager"
# (corepack's signature check fails on machines without its key list).
RUN npm install -g --no-fund --no-audit pnpm@10.34.9
WORKDIR /src
# Manifests first: the dependency layer is rebuilt only when they change.
# Every workspace package's package.json is here (the test enforces it).
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml turbo.json tsconfig.base.json buf.yaml ./
COPY packages/cli/package.json packages/cli/
COPY packages/clock/package.json packages/clock/
COPY packages/grpc-names/package.json packages/grpc-names/
COPY packages/connect-server/package.json packages/connect-server/
COPY packages/grpc-protos/package.json packages/grpc-protos/
COPY packages/proto/package.json packages/proto/
COPY packages/dns-pool/package.json packages/dns-pool/
COPY packages/dns-test-server/package.json packages/dns-test-server/
COPY packages/rng-fleet/package.json packages/rng-fleet/
COPY packages/fault-injection/package.json packages/fault-injection/
COPY packages/testkit/package.json packages/testkit/
COPY packages/telemetry/package.json packages/telemetry/
COPY packages/rng-server/package.json packages/rng-server/
COPY packages/wire-fuzz/package.json packages/wire-fuzz/
COPY packages/release-test/package.json packages/release-test/
COPY apps/server/package.json apps/server/
COPY apps/client/package.json apps/client/
COPY apps/demo/package.json apps/demo/
COPY apps/bench/package.json apps/bench/
COPY apps/subset-lab/package.json apps/subset-lab/
COPY deploy/package.json deploy/
# patchedDependencies (pnpm-workspace.yaml): applied by the install.
COPY patches/@opentelemetry__sdk-metrics@3.1.1.patch patches/
RUN pnpm install --frozen-lockfile
COPY proto ./proto
COPY packages ./packages
COPY apps ./apps
# turbo builds the apps and the workspace packages they use, in order. Its
# "generate" step reruns buf with local plugins only (no network), which
# rewrites the committed stubs in packages/grpc-protos/src/gen and
# packages/proto/src/gen identically.
RUN pnpm exec turbo run build --filter=@rngbalance/server... --filter=@rngbalance/client...
# One self-contained directory per app: its files ("files": dist), its
# production dependencies only (--prod), workspace packages copied in. The
# server app owns the rng-server bin: its dist/main.js runs the library
# @rngbalance/rng-server's main. The process and fleet fixtures
# (@rngbalance/rng-fleet, dns-test-server, testkit) are only dev dependencies
# of the apps, and stay out of the image.
# pnpm 10 deploys only workspaces with inject-workspace-packages=true unless
# --legacy is given; --legacy keeps the workspace as it is.
RUN pnpm deploy --filter=@rngbalance/server --prod --legacy /out/server \
 && pnpm deploy --filter=@rngbalance/client --prod --legacy /out/client

# Runtime targets. node runs as PID 1, with no tini: as PID 1 the kernel
# gives it no default signal actions, so a SIGTERM without a handler would be
# ignored. Both apps handle SIGTERM and SIGINT themselves (rng-server drains
# then exits 0, rng-client stops and prints its summary; a second signal exits
# at once), start no child processes, so there are no zombies to reap, and
# ENTRYPOINT is in exec form, so no shell sits between the runtime and node.
# tini would add nothing but a package. The files stay owned by root: the
# app's user can read, not change them (the pods also mount / read-only).
# USER is numeric so that Kubernetes' runAsNonRoot can verify it.
FROM node:24-slim AS server
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out/server ./
USER 10001:10001
EXPOSE 8081
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]

FROM node:24-slim AS client
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out/client ./
USER 10001:10001
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]
