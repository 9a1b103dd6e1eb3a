/**
 * Versions of the code that produced an artifact, read from package.json
 * files (never from the running Node, which would make artifacts differ
 * between machines).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { packageVersion } from "../config.js";

const require = createRequire(import.meta.url);

function readPackage(path: string): { name?: string; version?: string } {
  return JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
}

/** The installed version of dependency `name` (its package.json, found above its entry point). */
function dependencyVersion(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    try {
      const pkg = readPackage(join(dir, "package.json"));
      if (pkg.name === name && pkg.version) return pkg.version;
    } catch {
      // no package.json here; keep climbing
    }
    const parent = dirname(dir);
    if (parent === dir) return "unknown";
    dir = parent;
  }
}

/** The libraries a training run depends on, with their versions. */
export function libraryVersions(): Record<string, string> {
  const project = packageVersion();
  return {
    [project.name]: project.version,
    "ml-matrix": dependencyVersion("ml-matrix"),
    "csv-parse": dependencyVersion("csv-parse"),
  };
}
