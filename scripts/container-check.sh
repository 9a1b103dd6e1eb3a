#!/usr/bin/env bash
# Builds the real Dockerfile, runs the image and checks it from the outside:
#   1. the image: non-root user, ports 50051 and 8080, exec-form HEALTHCHECK and entry
#      point, model version label, no dev dependencies/sources/tests inside;
#   2. the container: gRPC health SERVING through the published port, the
#      image's own HEALTHCHECK passing, the server process not running as root;
#   3. the contract: Predict, BatchPredict and ModelInfo answers equal the
#      committed model run locally, bad input gets INVALID_ARGUMENT, and the
#      CLI's `predict --remote` prints what local `predict` prints; over the
#      published HTTP port, POST /predict and V2 infer answer the same, and
#      /v2/health/ready is ready;
#   4. shutdown: `stop -t 10` (SIGTERM) while large BatchPredict calls are in
#      flight: they complete, the container exits 0 within the grace period.
# Prints the container's logs when a check fails; always removes the container.
#
#   npm ci && bash scripts/container-check.sh       (or: npm run container:check)
#
# Works with docker (GitHub Actions) and podman. Environment:
#   CONTAINER_ENGINE   docker|podman (default: docker if `docker info` works, else podman)
#   IRIS_PODMAN_ENV    a script sourced before podman is used (setup, LOCAL_NODE_IMAGE)
#   NODE_IMAGE / LOCAL_NODE_IMAGE   base image to build on instead of the Dockerfile's
#   IRIS_CHECK_IMAGE   tag to build and check (default iris-serve:check); the image is kept
#   IRIS_CHECK_SKIP_BUILD=1         check IRIS_CHECK_IMAGE as it is, without building
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/container-lib.sh
source scripts/container-lib.sh

IMAGE=${IRIS_CHECK_IMAGE:-iris-serve:check}
GRACE_SECONDS=10
HEALTH_ATTEMPTS=60
STARTED=$(date +%s)
CID=""
WORK=$(mktemp -d)

step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok    %s\n' "$*"; }
die() {
  printf 'FAIL  %s\n' "$*" >&2
  if [ -n "$CID" ]; then
    printf '\n== container logs (%s)\n' "$CID" >&2
    "$ENGINE" logs "$CID" >&2 2>&1 || true
  fi
  exit 1
}
cleanup() {
  if [ -n "$CID" ]; then "$ENGINE" rm -f "$CID" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
# The host side speaks gRPC through the project's own CLI and scripts.
iris() { node --import tsx src/cli/main.ts "$@"; }

[ -d node_modules/tsx ] || { echo "container-check: run npm ci first (the checks use the project's client)" >&2; exit 1; }
pick_engine
MODEL_VERSION=$(node -p 'JSON.parse(require("node:fs").readFileSync("artifacts/model.json", "utf8")).version')

step "build ($ENGINE)"
if [ "${IRIS_CHECK_SKIP_BUILD:-}" = 1 ]; then
  echo "using $IMAGE as it is"
else
  build_started=$(date +%s)
  bash scripts/container-build.sh "$IMAGE" >"$WORK/build.log" 2>&1 || {
    tail -n 60 "$WORK/build.log" >&2
    die "image build failed"
  }
  ok "built $IMAGE in $(($(date +%s) - build_started)) s"
fi

step "image"
inspect() { "$ENGINE" image inspect --format "$1" "$IMAGE"; }
size_bytes=$(inspect '{{.Size}}')
ok "size $((size_bytes / 1000 / 1000)) MB ($size_bytes bytes, uncompressed)"
user=$(inspect '{{.Config.User}}')
case "${user%%:*}" in
  "" | 0 | root) die "image user is \"$user\", expected a non-root user" ;;
esac
ok "user $user"
ports=$(inspect '{{json .Config.ExposedPorts}}')
[[ $ports == *'"50051/tcp"'* && $ports == *'"8080/tcp"'* ]] || die "image exposes $ports, expected 50051/tcp and 8080/tcp"
ok "exposes 50051/tcp (gRPC) and 8080/tcp (HTTP)"
entry=$(inspect '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')
[ "$entry" = '["node","dist/cli/main.js"] ["serve"]' ] || die "entry point is $entry, expected exec form node dist/cli/main.js serve"
ok "entry point (exec form) $entry"
healthcheck=$(inspect '{{json .Config.Healthcheck.Test}}')
[[ $healthcheck == '["CMD","node","dist/cli/main.js","health"'* ]] || die "HEALTHCHECK is $healthcheck, expected exec form iris health"
ok "HEALTHCHECK $healthcheck"
label=$(inspect '{{index .Config.Labels "io.iris-serve.model.version"}}')
[ "$label" = "$MODEL_VERSION" ] || die "label io.iris-serve.model.version=\"$label\", artifacts/model.json is $MODEL_VERSION"
ok "label io.iris-serve.model.version=$label"
node_env=$(inspect '{{range .Config.Env}}{{println .}}{{end}}' | grep '^NODE_ENV=' || true)
[ "$node_env" = NODE_ENV=production ] || die "image has \"$node_env\", expected NODE_ENV=production"
ok "$node_env"
# shellcheck disable=SC2016  # JavaScript, not shell
contents=$("$ENGINE" run --rm --no-healthcheck --entrypoint node "$IMAGE" 2>"$WORK/contents.err" -e '
  const fs = require("node:fs");
  const need = ["dist/cli/main.js", "proto/iris.proto", "artifacts/model.json", "package.json", "node_modules/@grpc/grpc-js"];
  const banned = ["src", "test", "scripts", ".git", "node_modules/typescript", "node_modules/vitest", "node_modules/tsx",
    "node_modules/@bufbuild/buf", "node_modules/eslint", "node_modules/ts-proto"];
  const missing = need.filter((p) => !fs.existsSync(p));
  const present = banned.filter((p) => fs.existsSync(p));
  console.log(missing.length || present.length ? `missing: ${missing} present: ${present}` : "clean");')
[ "$contents" = clean ] || die "image contents: $contents $(cat "$WORK/contents.err")"
ok "contains dist/, proto/, artifacts/ and production dependencies only (no sources, tests, dev dependencies, .git)"

step "run"
# docker runs the HEALTHCHECK itself: probe often so the check need not wait long.
# podman would run it from systemd timers, which containers and CI machines
# often lack: the check below runs it on demand instead.
if [ "$ENGINE" = docker ]; then
  health_flags=(--health-interval 2s --health-start-period 30s)
else
  health_flags=(--health-interval disable)
fi
# (podman still complains on stderr that it cannot reach systemd; shown only on failure.)
CID=$("$ENGINE" run -d -p 127.0.0.1::50051 -p 127.0.0.1::8080 "${health_flags[@]}" "$IMAGE" 2>"$WORK/run.err") ||
  { cat "$WORK/run.err" >&2; die "$ENGINE run failed"; }
published=$("$ENGINE" port "$CID" 50051/tcp | head -n 1)
PORT=${published##*:}
ADDRESS=127.0.0.1:$PORT
published_http=$("$ENGINE" port "$CID" 8080/tcp | head -n 1)
HTTP=http://127.0.0.1:${published_http##*:}
ok "container ${CID:0:12} publishes 50051 on $ADDRESS and 8080 on $HTTP"

for ((attempt = 1; ; attempt++)); do
  [ "$("$ENGINE" inspect --format '{{.State.Running}}' "$CID")" = true ] || die "the container exited while starting"
  if iris health --address "$ADDRESS" --timeout-ms 2000 >/dev/null 2>"$WORK/health.err"; then break; fi
  if ((attempt >= HEALTH_ATTEMPTS)); then
    die "health not SERVING after $attempt attempts: $(cat "$WORK/health.err")"
  fi
  sleep 1
done
ok "grpc.health.v1 Check through $ADDRESS: SERVING (attempt $attempt)"
for service in "" iris.v1.IrisService inference.GRPCInferenceService; do
  iris health --address "$ADDRESS" --service "$service" >/dev/null || die "health of service \"$service\" is not SERVING"
done
ok "services \"\", iris.v1.IrisService and inference.GRPCInferenceService SERVING"

if [ "$ENGINE" = podman ]; then
  "$ENGINE" healthcheck run "$CID" >/dev/null || die "the image's HEALTHCHECK failed (podman healthcheck run)"
else
  for ((attempt = 1; ; attempt++)); do
    status=$("$ENGINE" inspect --format '{{.State.Health.Status}}' "$CID")
    [ "$status" = healthy ] && break
    ((attempt < 30)) || die "the engine reports the container $status after $attempt polls"
    sleep 1
  done
fi
ok "the image's own HEALTHCHECK passes inside the container"

uid=$("$ENGINE" exec "$CID" id -u)
[ "$uid" != 0 ] || die "the server runs as root"
pid1=$("$ENGINE" exec "$CID" cat /proc/1/cmdline | tr '\0' ' ')
[[ $pid1 == node\ dist/cli/main.js\ serve* ]] || die "PID 1 is \"$pid1\", expected the server itself"
ok "server runs as uid $uid and is PID 1 (${pid1% })"

step "contract smoke through $ADDRESS and $HTTP"
node --import tsx scripts/container-smoke.ts smoke --address "$ADDRESS" --http "$HTTP" || die "contract smoke failed"
input='[[5.1,3.5,1.4,0.2],[6.2,2.9,4.3,1.3],[7.7,3.0,6.1,2.3]]'
local_out=$(iris predict --input "$input") || die "local iris predict failed"
remote_out=$(iris predict --remote "$ADDRESS" --input "$input") || die "iris predict --remote failed"
[ "$remote_out" = "$local_out" ] || die "iris predict --remote printed \"$remote_out\", local predict \"$local_out\""
ok "iris predict --remote prints what local predict prints: $remote_out"

step "SIGTERM with calls in flight ($ENGINE stop -t $GRACE_SECONDS)"
node --import tsx scripts/container-smoke.ts drain --address "$ADDRESS" --grace-seconds "$GRACE_SECONDS" \
  -- "$ENGINE" stop -t "$GRACE_SECONDS" "$CID" || die "graceful shutdown check failed"
state=$("$ENGINE" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$CID")
[ "$state" = "exited 0" ] || die "after stop the container is \"$state\", expected \"exited 0\""
ok "container exited with code 0"
echo "-- last log lines"
"$ENGINE" logs "$CID" 2>&1 | tail -n 4

printf '\ncontainer check passed in %s s (image %s, model %s)\n' "$(($(date +%s) - STARTED))" "$IMAGE" "$MODEL_VERSION"
