// @ts-check
import js from "@eslint/js";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

/**
 * The layers, lowest first (src/report: pictures of a model's evaluation,
 * drawn by the training report and the server's console alike; src/console:
 * the console's browser script, which nothing else imports). Code may import from its own layer and from the
 * layers listed in `may` (and from the cross-cutting modules src/errors.ts,
 * src/config.ts, src/logger.ts); anything else is an upward or sideways
 * import and fails the lint. src/gen/ is generated from proto/.
 */
const LAYERS = {
  gen: { may: [] },
  model: { may: [] },
  report: { may: ["model"] },
  rpc: { may: ["gen"] },
  training: { may: ["model", "report"] },
  server: { may: ["gen", "rpc", "model", "report"] },
  client: { may: ["gen", "rpc"] },
  cli: { may: ["gen", "rpc", "model", "report", "training", "server", "client"] },
  // The web console's browser script (bundled apart, served by src/server/http/console/): the model's pure rules only.
  console: { may: ["model"] },
};
const CROSS_CUTTING = ["./src/errors.ts", "./src/config.ts", "./src/logger.ts"];

const zones = Object.entries(LAYERS).flatMap(([layer, { may }]) =>
  Object.keys(LAYERS)
    .filter((other) => other !== layer && !may.includes(other))
    .map((other) => ({
      target: `./src/${layer}`,
      from: `./src/${other}`,
      message: `src/${layer} must not import src/${other} (layers: proto → gen → model → training → server → client → cli)`,
    })),
);

export default tseslint.config(
  { ignores: ["dist/", "coverage/", "node_modules/", "src/gen/", "src/model/gen/", "packages/*/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["src/**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      "import-x/resolver": undefined,
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "tsconfig.json" })],
    },
    rules: {
      // No import cycles anywhere in src/ (grpc-js runs `madge -c` for the same reason).
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      // Upward imports between layers.
      "import-x/no-restricted-paths": [
        "error",
        {
          zones: [
            ...zones,
            // The cross-cutting modules sit below every layer.
            ...CROSS_CUTTING.map((file) => ({
              target: file,
              from: "./src",
              // ...but the wire's shared facts (the default port).
              except: [...CROSS_CUTTING.map((f) => `./${f.slice("./src/".length)}`), "./rpc/defaults.ts"],
              message: "src/errors.ts, src/config.ts and src/logger.ts import nothing else of src/ but src/rpc/defaults.ts",
            })),
          ],
        },
      ],
    },
  },
);
