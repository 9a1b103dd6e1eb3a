# iris-serve: the Iris classifier over gRPC on port 50051 (iris.v1 and the
# Open Inference Protocol) and HTTP on port 8080 (POST /predict, the Open
# Inference Protocol's REST binding, /docs).
#
#   docker build --build-arg MODEL_VERSION="$(node -p 'require("./artifacts/model.json").version')" -t iris-serve .
#   docker run --rm -p 50051:50051 -p 8080:8080 iris-serve
#
# scripts/container-build.sh fills in the build arguments (model version,
# revision, ...) and scripts/container-check.sh builds, runs and checks the
# image end to end. The base image is a build argument so that it can be
# swapped (a mirror, a digest pin, a newer Node); every stage uses the same one.

ARG NODE_IMAGE=node:24.11.0-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ --------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
# The bundler's script: the CLI and the web console's script are bundled after tsc.
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
COPY proto ./proto
COPY artifacts ./artifacts
RUN npm run build
# The version label must describe the model that is actually inside.
ARG MODEL_VERSION=""
RUN node -e ' \
  const v = require("./artifacts/model.json").version; \
  const want = process.env.MODEL_VERSION; \
  if (want && want !== v) { console.error(`MODEL_VERSION=${want} but artifacts/model.json is ${v}`); process.exit(1); }'

# ---- deps: production dependencies only, no install scripts -----------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime ------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG MODEL_VERSION=""
ARG VERSION=""
ARG REVISION=""
ARG CREATED=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="iris-serve" \
      org.opencontainers.image.description="Iris species classifier served over gRPC (iris.v1, Open Inference Protocol) on port 50051 and HTTP (/predict, Open Inference Protocol) on port 8080" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      io.iris-serve.model.version="${MODEL_VERSION}"

ENV NODE_ENV=production \
    IRIS_HOST=0.0.0.0 \
    IRIS_PORT=50051 \
    IRIS_HTTP_PORT=8080 \
    IRIS_MODEL=/app/artifacts/model.json
WORKDIR /app
# Everything is owned by root and only readable by the server's user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY proto ./proto
COPY artifacts ./artifacts

# nobody:nogroup, numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65534:65534
EXPOSE 50051 8080
# A real grpc.health.v1 Check through the server's own port; exit 0 only when SERVING.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "dist/cli/main.js", "health", "--timeout-ms", "4000"]
# Exec form: node is PID 1 and receives SIGTERM itself; the server then
# reports NOT_SERVING, drains in-flight calls (IRIS_SHUTDOWN_GRACE_MS) and exits 0.
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
