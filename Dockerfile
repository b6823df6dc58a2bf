# syntax=docker/dockerfile:1
# implicit-prm, CPU image. Build from the repository root:
#   docker build -t implicit-prm:0.1.0 .
# The image serves every bundle under models/ (copied in at build time); mount another folder over
# /app/models to serve other bundles without rebuilding.

# Pin by digest (node:20-bookworm-slim@sha256:...) for reproducible production builds.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- deps: every dependency, dev included, for the TypeScript build --------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# The CPU binding ships inside onnxruntime-node's npm package; its install script would otherwise
# try to download CUDA files this image never uses. package.json's allowScripts denies the script
# to npm >= 11.16; the image's npm is older, so onnxruntime-node's own switch says it too.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- build: tsc → dist/src/server.js ----------------------------------------------------------
FROM deps AS build
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: runtime dependencies only --------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# onnxruntime-node bundles native libraries for every OS; only Linux ones can load here, and the
# others are ~220 MB.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32 \
 && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV PORT=8080 \
    HOST=0.0.0.0 \
    REQUIRE_FINGERPRINT=true \
    MODELS_DIR=/app/models \
    PRM_DEVICE=cpu
# Everything stays owned by root and read-only to the service user, so the container also runs
# with a read-only root filesystem.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The playground page is static HTML/JS/CSS that tsc does not copy into dist/.
COPY src/playground/static ./src/playground/static
COPY models ./models
# uid/gid 1000 is the image's `node` user; numeric so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
# No curl in slim images: Node 20's fetch does the probe. Liveness only: readiness (models loaded)
# is the orchestrator's business. Needs PUBLIC_HEALTH=true (the default).
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains in-flight requests, then exits 0; give it time (docker stop -t 40).
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/server.js"]
