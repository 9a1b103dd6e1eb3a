#!/usr/bin/env bash
# Fails when the committed generated code differs from what `npm run generate`
# makes now: src/gen from proto/ (a stale or hand-edited file, a missing or
# an extra one), src/model/gen/softmax-kernel.ts from
# scripts/generate-kernel.ts. Generates in a temporary copy, so the tree is never touched.
#
#   bash scripts/check-generated.sh
#
# IRIS_PROJECT_DIR names the project to check (default: this one).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${IRIS_PROJECT_DIR:-$ROOT}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Every `out:` folder of buf.gen.yaml is compared whole.
mapfile -t outs < <(sed -n 's/^[[:space:]]*out:[[:space:]]*\([^[:space:]#]*\).*/\1/p' buf.gen.yaml | sort -u)
[ ${#outs[@]} -gt 0 ] || { echo "check-generated: no out: folder in buf.gen.yaml" >&2; exit 1; }

# The generator's inputs, and the tools it runs (node_modules, our descriptor plugin).
cp -R package.json buf.yaml buf.gen.yaml proto "$work/"
[ -f buf.lock ] && cp buf.lock "$work/"
ln -s "$ROOT/node_modules" "$work/node_modules"
mkdir -p "$work/scripts" "$work/src/model/gen"
cp "$ROOT/scripts/protoc-gen-descriptor-set.mjs" "$ROOT/scripts/generate-kernel.ts" "$work/scripts/"
(cd "$work" && npm run --silent generate) >"$work/generate.log" 2>&1 || {
  cat "$work/generate.log" >&2
  echo "check-generated: npm run generate failed" >&2
  exit 1
}

stale=0
for out in "${outs[@]}"; do
  if ! diff -ru "$out" "$work/$out" >"$work/diff" 2>&1; then
    stale=1
    echo "check-generated: $out differs from what npm run generate makes from the proto:" >&2
    head -n 80 "$work/diff" >&2
  fi
done
# The WebAssembly kernel, written by `npm run generate` after buf.
if ! diff -u src/model/gen/softmax-kernel.ts "$work/src/model/gen/softmax-kernel.ts" >"$work/diff" 2>&1; then
  stale=1
  echo "check-generated: src/model/gen/softmax-kernel.ts differs from what scripts/generate-kernel.ts writes:" >&2
  head -n 20 "$work/diff" >&2
fi
if [ "$stale" = 1 ]; then
  echo "check-generated: run \`npm run generate\` and commit the result" >&2
  exit 1
fi
echo "check-generated: ${outs[*]} up to date with proto/, src/model/gen with scripts/generate-kernel.ts"
