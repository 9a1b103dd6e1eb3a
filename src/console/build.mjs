// Bundles the web console's script (src/console/main.ts and what it
// imports: the model's feature rules, csv-parse) into one ES module,
// dist/console/console.js, which the server serves under a hashed name.
// esbuild, because the browser needs one file with the npm package (the
// trainer's CSV parser) inside, and it does that in a fraction of a second;
// type checking is tsc's (npm run typecheck, src/console/tsconfig.json).
// Run by `npm run build` and `npm start`.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));

await build({
  entryPoints: [join(here, "main.ts")],
  outfile: join(here, "../../dist/console/console.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
});
