# syntax=docker/dockerfile:1
# Images for rng-server and rng-client, from one multi-stage build:
#   docker build --target server -t rngbalance/server .
#   docker build --target client -t rngbalance/client .

FROM node:20-bookworm-slim AS build
# pnpm from npm, at the version package.json pins in "packageManager"
# (corepack's signature check fails on machines without its key list).
RUN npm install -g pnpm@10.34.9
WORKDIR /src
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml turbo.json tsconfig.base.json buf.yaml buf.gen.yaml ./
COPY packages/proto/package.json packages/proto/
COPY packages/dns-pool/package.json packages/dns-pool/
COPY packages/local-fleet/package.json packages/local-fleet/
COPY apps/server/package.json apps/server/
COPY apps/client/package.json apps/client/
COPY apps/demo/package.json apps/demo/
COPY apps/bench/package.json apps/bench/
COPY deploy/package.json deploy/
RUN pnpm install --frozen-lockfile
COPY proto ./proto
COPY packages ./packages
COPY apps ./apps
# The stubs in packages/proto/src/gen are committed: no buf run is needed here.
RUN pnpm exec turbo run build --filter=@rngbalance/server... --filter=@rngbalance/client...
# A self-contained directory per app: its production dependencies, workspace
# packages included (--legacy: pnpm 10 otherwise needs inject-workspace-packages).
RUN pnpm deploy --filter=@rngbalance/server --prod --legacy /out/server \
 && pnpm deploy --filter=@rngbalance/client --prod --legacy /out/client

# node runs as PID 1 directly: both apps handle SIGTERM and SIGINT themselves
# (graceful drain) and start no child processes, so there are no zombies to
# reap and tini would add nothing.
FROM node:20-bookworm-slim AS server
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=10001:10001 /out/server ./
USER 10001:10001
EXPOSE 8081
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]

FROM node:20-bookworm-slim AS client
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=10001:10001 /out/client ./
USER 10001:10001
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]
