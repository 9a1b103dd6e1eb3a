// Builds @iris-serve/client into dist/ from the SDK's sources (src/client in
// the repository and everything it imports, as tsconfig.build.json lists):
//   dist/esm  ES modules and declarations, compiled and type-checked by tsc;
//   dist/cjs  the same modules as CommonJS (each source file transpiled on
//             its own, which the repository's isolatedModules setting makes
//             safe) with the same declarations, marked "type": "commonjs".
// Then copies the repository's LICENSE beside this file.
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, URL } from "node:url";
import ts from "typescript";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const formatHost = { getCanonicalFileName: (f) => f, getCurrentDirectory: ts.sys.getCurrentDirectory, getNewLine: () => "\n" };

/** Prints the diagnostics and ends the build when there are any. */
function check(diagnostics) {
  if (diagnostics.length === 0) return;
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, formatHost));
  console.error("@iris-serve/client: build failed");
  process.exit(1);
}

const config = ts.getParsedCommandLineOfConfigFile(here("tsconfig.build.json"), {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => check([d]),
});
check(config.errors);
const { options } = config;

// ES modules and declarations.
await rm(here("dist"), { recursive: true, force: true });
const program = ts.createProgram({ rootNames: config.fileNames, options });
const emitted = program.emit();
check(ts.sortAndDeduplicateDiagnostics([...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]));

// CommonJS: the same settings without module resolution, which transpiling one file does not use.
const { moduleResolution: _resolution, ...esmOptions } = options;
const cjsOptions = { ...esmOptions, module: ts.ModuleKind.CommonJS, declaration: false, sourceMap: false };
const cjsDir = here("dist/cjs");
for (const source of program.getSourceFiles()) {
  if (source.isDeclarationFile || program.isSourceFileFromExternalLibrary(source)) continue;
  if (source.fileName.endsWith(".json")) {
    const file = relative(options.rootDir, source.fileName);
    await mkdir(dirname(join(cjsDir, file)), { recursive: true });
    await copyFile(join(options.outDir, file), join(cjsDir, file));
    continue;
  }
  const name = relative(options.rootDir, source.fileName).replace(/\.ts$/, "");
  const { outputText, diagnostics } = ts.transpileModule(source.text, {
    fileName: source.fileName,
    compilerOptions: cjsOptions,
    reportDiagnostics: true,
  });
  check(diagnostics ?? []);
  await mkdir(dirname(join(cjsDir, name)), { recursive: true });
  await writeFile(join(cjsDir, `${name}.js`), outputText);
  await copyFile(join(options.outDir, `${name}.d.ts`), join(cjsDir, `${name}.d.ts`));
}
await writeFile(join(cjsDir, "package.json"), '{\n  "type": "commonjs"\n}\n');
await copyFile(here("../../LICENSE"), here("LICENSE"));
