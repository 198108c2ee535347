# syntax=docker/dockerfile:1
# The mcgw image: one image for `mcgw controller` and `mcgw agent` (member clusters) and
# `mcgw leader` (the leader cluster). See docs/install.md.
#
#   docker build -t <registry>/mcgw:0.1.0 .
#
# The image runs the TypeScript sources directly through tsx (as bin/mcgw.js does in development),
# so there is no compile step.
ARG NODE_IMAGE=node:20-bookworm-slim

# Runtime npm dependencies, exactly as locked.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# tsx, the TypeScript loader bin/mcgw.js registers, is a devDependency in package.json; install the
# whole locked tree here and copy only tsx and what it needs at run time into the image.
FROM ${NODE_IMAGE} AS tsx
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
# ip and bridge (iproute2) and nft (nftables) program the agent's datapath and BFD's TTL guard.
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 nftables \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
# tsx's run-time closure; a test checks this list against package-lock.json.
COPY --from=tsx /app/node_modules/tsx ./node_modules/tsx
COPY --from=tsx /app/node_modules/esbuild ./node_modules/esbuild
COPY --from=tsx /app/node_modules/@esbuild ./node_modules/@esbuild
COPY --from=tsx /app/node_modules/get-tsconfig ./node_modules/get-tsconfig
COPY --from=tsx /app/node_modules/resolve-pkg-maps ./node_modules/resolve-pkg-maps
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# The unprivileged user `node` of the base image. The agent's Pod runs it as root with only
# CAP_NET_ADMIN (see deploy/helm/mcgw-member).
USER 1000:1000
ENTRYPOINT ["node", "bin/mcgw.js"]
CMD ["--help"]
