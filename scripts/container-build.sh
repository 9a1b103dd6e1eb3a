#!/usr/bin/env bash
# Builds the image from ./Dockerfile with its labels filled in.
#
#   bash scripts/container-build.sh [IMAGE]        # default IMAGE: iris-serve:local
#
# Build arguments it passes: MODEL_VERSION (read from artifacts/model.json; the
# build fails if the label would not match the model inside), VERSION (from
# package.json), REVISION and CREATED (the git commit and its time, so two
# builds of one commit get the same labels), SOURCE (IMAGE_SOURCE, if set).
#
# Environment: CONTAINER_ENGINE (docker|podman; default: docker when an engine
# answers, else podman), NODE_IMAGE or LOCAL_NODE_IMAGE (swap the base image),
# IRIS_PODMAN_ENV (a script to source before podman is used), IMAGE_SOURCE.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/container-lib.sh
source scripts/container-lib.sh

IMAGE=${1:-iris-serve:local}
pick_engine

[ -f artifacts/model.json ] || { echo "container-build: artifacts/model.json is missing (run npm run train)" >&2; exit 1; }
MODEL_VERSION=$(node -p 'JSON.parse(require("node:fs").readFileSync("artifacts/model.json", "utf8")).version')
VERSION=$(node -p 'require("./package.json").version')
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
CREATED=$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)

mapfile -t BASE_ARGS < <(base_image_args)
echo "container-build: $ENGINE build -t $IMAGE (model $MODEL_VERSION, version $VERSION${BASE_ARGS[1]:+, ${BASE_ARGS[1]}})"
"$ENGINE" build "${ENGINE_BUILD_FLAGS[@]}" \
  "${BASE_ARGS[@]}" \
  --build-arg "MODEL_VERSION=$MODEL_VERSION" \
  --build-arg "VERSION=$VERSION" \
  --build-arg "REVISION=$REVISION" \
  --build-arg "CREATED=$CREATED" \
  --build-arg "SOURCE=${IMAGE_SOURCE:-}" \
  -t "$IMAGE" .
