/**
 * The bundles of `npm run build` (and `npm start`), made with esbuild after
 * tsc has compiled dist/; type checking is tsc's (npm run typecheck).
 *
 * - cli: the `iris` command (src/cli/main.ts and everything it imports)
 *   into dist/cli/main.js, written over what tsc emitted there, plus the
 *   chunks it loads on demand in dist/cli/chunks/ (each command, the HTTP
 *   port, the trainer). Node then reads a few files at start instead of some
 *   1 500 modules, which on a busy 2-core machine was most of the time from
 *   start to serving (see docs/performance.md). Packages that read files
 *   beside their own code (.proto files, static assets), or that those
 *   packages share, are left to node_modules: grpc-js, proto-loader and
 *   protobufjs, reflection, grpc-health-check, fastify's swagger plugins.
 *   The rest of dist/ stays as tsc wrote it (the SDK, the model module, the
 *   declarations).
 * - console: the web console's script (src/console/main.ts and what it
 *   imports: the model's feature rules, csv-parse) into one ES module,
 *   dist/console/console.js, which the server serves under a hashed name:
 *   the browser needs one file with the npm package (the trainer's CSV
 *   parser) inside.
 *
 *   node scripts/build.mjs [--if-stale] [cli] [console]     (both when neither is named)
 *
 * --if-stale (npm start's prestart) skips the bundling when nothing it reads
 * changed since it last ran: every file under src/ and the lock file older
 * than the stamp it leaves in dist/, and the bundles there. tsc -b, run
 * before it, compiles only what changed; together they keep `npm start`
 * from rebuilding what is current.
 */
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const bundles = {
  cli: () => {
    rmSync(join(root, "dist/cli/chunks"), { recursive: true, force: true });
    return build({
      entryPoints: { main: join(root, "src/cli/main.ts") },
      outdir: join(root, "dist/cli"),
      chunkNames: "chunks/[name]-[hash]",
      splitting: true,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      external: [
        "@grpc/grpc-js",
        "@grpc/proto-loader",
        "@grpc/reflection",
        "protobufjs",
        "grpc-health-check",
        "@fastify/swagger",
        "@fastify/swagger-ui",
      ],
      // The CommonJS packages inside call require() for Node's own modules.
      banner: { js: 'import { createRequire as __irisCreateRequire } from "node:module";\nconst require = __irisCreateRequire(import.meta.url);' },
      logLevel: "warning",
    });
  },
  console: () =>
    build({
      entryPoints: [join(root, "src/console/main.ts")],
      outfile: join(root, "dist/console/console.js"),
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "none",
      logLevel: "warning",
    }),
};

const STAMP = join(root, "dist/.bundled");
const OUTPUTS = { cli: "dist/cli/main.js", console: "dist/console/console.js" };

/** The newest modification time of the files below `dir`, in ms. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function stale(names) {
  if (!existsSync(STAMP) || names.some((name) => !existsSync(join(root, OUTPUTS[name])))) return true;
  const inputs = Math.max(newest(join(root, "src")), statSync(join(root, "package-lock.json")).mtimeMs, statSync(fileURLToPath(import.meta.url)).mtimeMs);
  return inputs >= statSync(STAMP).mtimeMs;
}

const args = process.argv.slice(2);
const ifStale = args.includes("--if-stale");
const asked = args.filter((arg) => arg !== "--if-stale");
for (const name of asked) {
  if (!(name in bundles)) throw new Error(`unknown bundle "${name}"; the bundles are ${Object.keys(bundles).join(", ")}`);
}
const names = asked.length > 0 ? asked : Object.keys(bundles);
if (!ifStale || stale(names)) {
  await Promise.all(names.map((name) => bundles[name]()));
  // Only a build of every bundle vouches for all of them.
  if (names.length === Object.keys(bundles).length) writeFileSync(STAMP, "");
}
