#!/usr/bin/env bash
# Fails when proto/ breaks compatibility (buf's FILE rules, see buf.yaml) with
# the contract at a git ref: a deleted or renamed RPC, message or field, a
# changed field type or number, a changed package...
#
#   bash scripts/check-breaking.sh [REF]    # default: origin/main, else main
#
# Needs the ref's history (actions/checkout: fetch-depth: 0). When the ref has
# no proto/ yet there is nothing to break and the check passes.
# IRIS_PROJECT_DIR names the project to check (default: this one).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${IRIS_PROJECT_DIR:-$ROOT}"
BUF=${BUF:-$ROOT/node_modules/.bin/buf}

ref=${1:-}
if [ -z "$ref" ]; then
  if git rev-parse --verify --quiet origin/main >/dev/null; then ref=origin/main; else ref=main; fi
fi
git rev-parse --verify --quiet "$ref^{commit}" >/dev/null ||
  { echo "check-breaking: unknown git ref \"$ref\" (fetch it, e.g. fetch-depth: 0)" >&2; exit 1; }
if ! git cat-file -e "$ref:proto" 2>/dev/null; then
  echo "check-breaking: $ref has no proto/ yet; nothing to compare"
  exit 0
fi
if ! "$BUF" breaking --against ".git#ref=$ref"; then
  echo "check-breaking: proto/ breaks compatibility with $ref (see above); add a new version (iris.v2) instead" >&2
  exit 1
fi
echo "check-breaking: proto/ is compatible with $ref"
