#!/usr/bin/env bash
# Fails when training does not reproduce the committed model: the freshly
# trained artifacts must be byte-identical to the committed ones in
# artifacts/ (model.json always; metrics.json and the reports when committed).
#
#   bash scripts/check-reproducible.sh            # train with the defaults into a temp folder, compare
#   bash scripts/check-reproducible.sh DIR        # compare artifacts already trained into DIR
#
# CI trains once with the quality gate (npm run train -- --out DIR
# --min-accuracy X) and passes that DIR here. Training uses the committed
# model's defaults, so run `npm run train` and commit artifacts/ after changing
# the data, the trainer or its defaults.
# IRIS_PROJECT_DIR names the project to check (default: this one).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${IRIS_PROJECT_DIR:-$ROOT}"

committed=artifacts
[ -f "$committed/model.json" ] || { echo "check-reproducible: $committed/model.json is not there to compare with" >&2; exit 1; }

fresh=${1:-}
if [ -z "$fresh" ]; then
  fresh=$(mktemp -d)
  trap 'rm -rf "$fresh"' EXIT
  # The trainer records the data path as given: train from the project folder with the defaults.
  "$ROOT/node_modules/.bin/tsx" "$ROOT/src/cli/main.ts" train --out "$fresh" >/dev/null
fi
[ -f "$fresh/model.json" ] || { echo "check-reproducible: no model.json in $fresh" >&2; exit 1; }

status=0
for name in model.json metrics.json report.md report.html; do
  [ "$name" = model.json ] || [ -f "$committed/$name" ] || continue
  if [ ! -f "$fresh/$name" ]; then
    echo "check-reproducible: training did not write $name" >&2
    status=1
  elif ! cmp -s "$committed/$name" "$fresh/$name"; then
    status=1
    echo "check-reproducible: the fresh $name differs from $committed/$name" >&2
    case "$name" in
      *.json)
        # Name the fields that changed, e.g. version, coefficients, training.datasetSha256.
        # shellcheck disable=SC2016  # JavaScript, not shell
        node -e '
          const fs = require("node:fs");
          const [a, b] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
          const out = [];
          const walk = (x, y, at, depth) => {
            if (JSON.stringify(x) === JSON.stringify(y)) return;
            if (depth < 2 && x && y && typeof x === "object" && typeof y === "object" && !Array.isArray(x)) {
              for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], at ? `${at}.${k}` : k, depth + 1);
            } else out.push(`  ${at || "(whole file)"}: ${JSON.stringify(x)?.slice(0, 60)} -> ${JSON.stringify(y)?.slice(0, 60)}`);
          };
          walk(a, b, "", 0);
          console.error(out.length ? out.join("\n") : "  (same JSON, different bytes)");
        ' "$committed/$name" "$fresh/$name"
        ;;
      *) diff -u "$committed/$name" "$fresh/$name" | head -n 20 >&2 || true ;;
    esac
  fi
done
if [ "$status" != 0 ]; then
  echo "check-reproducible: the committed model is not what training produces; run npm run train and commit artifacts/" >&2
  exit 1
fi
echo "check-reproducible: $(node -p 'JSON.parse(require("node:fs").readFileSync("artifacts/model.json","utf8")).version') reproduced byte for byte"
