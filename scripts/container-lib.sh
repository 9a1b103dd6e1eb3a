# shellcheck shell=bash
# Shared by scripts/container-build.sh and scripts/container-check.sh (sourced, not run).
#
# Picks the container engine: $CONTAINER_ENGINE if set, else docker when a
# Docker engine answers (`docker info`), else podman. Before podman is used,
# the script named by $IRIS_PODMAN_ENV (if any) is sourced: it may install or
# configure podman and export LOCAL_NODE_IMAGE, a local stand-in for the base
# image where no registry is reachable.

# Sets ENGINE (docker|podman) and ENGINE_BUILD_FLAGS; returns 1 with a message if none works.
# shellcheck disable=SC2034  # ENGINE_BUILD_FLAGS is read by the scripts that source this file
pick_engine() {
  ENGINE=${CONTAINER_ENGINE:-}
  if [ -z "$ENGINE" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      ENGINE=docker
    else
      ENGINE=podman
    fi
  fi
  case "$ENGINE" in
    docker)
      ENGINE_BUILD_FLAGS=()
      ;;
    podman)
      if [ -n "${IRIS_PODMAN_ENV:-}" ]; then
        # shellcheck disable=SC1090
        source "$IRIS_PODMAN_ENV" || { echo "container: sourcing IRIS_PODMAN_ENV ($IRIS_PODMAN_ENV) failed" >&2; return 1; }
      fi
      command -v podman >/dev/null 2>&1 || { echo "container: no Docker engine answers and podman is not installed" >&2; return 1; }
      # docker format keeps HEALTHCHECK (the OCI format drops it); chroot
      # isolation and the host network let builds run in a plain container or VM.
      read -r -a ENGINE_BUILD_FLAGS <<<"${PODMAN_BUILD_FLAGS:---format docker --isolation chroot --network host}"
      ;;
    *)
      echo "container: CONTAINER_ENGINE must be docker or podman, got \"$ENGINE\"" >&2
      return 1
      ;;
  esac
  export ENGINE
}

# The base image to build on: $NODE_IMAGE, else $LOCAL_NODE_IMAGE, else the Dockerfile's default.
base_image_args() {
  local base=${NODE_IMAGE:-${LOCAL_NODE_IMAGE:-}}
  if [ -n "$base" ]; then
    printf '%s\n' --build-arg "NODE_IMAGE=$base"
  fi
}
