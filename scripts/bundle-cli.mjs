/**
 * Bundles the `iris` command (src/cli/main.ts and everything it imports)
 * into dist/cli/main.js, written over what tsc emitted there (`npm run
 * build` runs tsc, then this), plus the chunks it loads on demand in
 * dist/cli/chunks/ (each command, the HTTP port, the trainer). Node then
 * reads a few files at start instead of some 1 500 modules, which on a busy
 * 2-core machine was most of the time from start to serving (see
 * docs/service.md#performance).
 *
 * Packages that read files beside their own code (.proto files, static
 * assets) or that those packages share are left to node_modules: grpc-js,
 * proto-loader and protobufjs, reflection, grpc-health-check, fastify's
 * swagger plugins. The rest of dist/ stays as tsc wrote it (the SDK, the
 * model module, the declarations).
 *
 *   node scripts/bundle-cli.mjs
 */
import { rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist/cli/chunks", { recursive: true, force: true });
await build({
  entryPoints: { main: "src/cli/main.ts" },
  outdir: "dist/cli",
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
