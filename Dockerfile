# syntax=docker/dockerfile:1
# The mcgw image: one image for `mcgw controller` and `mcgw agent` (member clusters) and
# `mcgw leader` (the leader cluster). See docs/install.md.
#
#   docker build -t <registry>/mcgw:0.1.0 .
#
# The image runs the compiled CLI (`npm run build` → dist/), so neither tsx nor the TypeScript
# sources are in it, and MCGW_RUNTIME=dist makes bin/mcgw.js fail rather than look for them.
#
# NODE_IMAGE is the base of the final stage: node and apt-get, and the user 1000 it runs as.
# NODE_BUILD_IMAGE is the base of the build stages, which also need npm. The official node image has
# both, so by default they are the same. scripts/build-images.sh, which builds this file without
# Docker, passes a Debian base without npm as NODE_IMAGE and the same with Debian's npm as
# NODE_BUILD_IMAGE: Debian's npm adds about 150 MB (node-gyp, python3, hundreds of node-* packages)
# that the image never runs.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NODE_BUILD_IMAGE=${NODE_IMAGE}

# Runtime npm dependencies, exactly as locked.
FROM ${NODE_BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# The build: the whole locked tree (typescript is a devDependency), then src/ compiled to dist/.
FROM ${NODE_BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
RUN node scripts/build.mjs

FROM ${NODE_IMAGE}
# ip and bridge (iproute2) and nft (nftables) program the agent's datapath and BFD's TTL guard.
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 nftables \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production MCGW_RUNTIME=dist
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The unprivileged user `node` of the base image. The agent's Pod runs it as root with only
# CAP_NET_ADMIN (see deploy/helm/mcgw-member).
USER 1000:1000
ENTRYPOINT ["node", "bin/mcgw.js"]
CMD ["--help"]
