/**
 * The Dockerfile and .dockerignore as files: what goes into each stage and
 * into the build context. (scripts/container-check.sh builds and runs the
 * image for real; it needs a container engine, so it is not part of npm test.)
 */
import { execFile } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const run = promisify(execFile);

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile → instructions, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .split("\n")
    .filter((line) => !/^\s*#/.test(line))
    .join("\n")
    .replace(/\\\n/g, " ");
  return logical
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [op, ...rest] = line.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(" ") };
    });
}

const instructions = parseDockerfile(readFileSync(path.join(REPO, "Dockerfile"), "utf8"));
/** Instructions by stage name; "" holds what comes before the first FROM. */
const stages = new Map<string, Instruction[]>([["", []]]);
let current = "";
for (const instruction of instructions) {
  if (instruction.op === "FROM") {
    current = /\bAS\s+(\S+)$/i.exec(instruction.args)?.[1] ?? "?";
    stages.set(current, []);
  }
  stages.get(current)!.push(instruction);
}
const stage = (name: string): Instruction[] => stages.get(name) ?? [];
const args = (name: string, op: string): string[] => stage(name).filter((i) => i.op === op).map((i) => i.args);

describe("Dockerfile", () => {
  it("builds every stage on one pinned Node LTS slim base, a major the CI matrix tests, swappable by NODE_IMAGE", () => {
    const workflow = readFileSync(path.join(REPO, ".github/workflows/ci.yml"), "utf8");
    const tested = /node: \[([^\]]*)\]/.exec(workflow)?.[1]?.match(/\d+/g) ?? [];
    expect(args("", "ARG")).toHaveLength(1);
    const [, version] = /^NODE_IMAGE=node:(\d+\.\d+\.\d+)-bookworm-slim$/.exec(args("", "ARG")[0]!) ?? [];
    expect(version, args("", "ARG")[0]).toBeDefined();
    const major = version!.split(".")[0]!;
    // LTS lines are the even majors; the image must run on one that CI tests.
    expect(Number(major) % 2, `node ${major} is not an LTS line`).toBe(0);
    expect(tested).toContain(major);
    expect(instructions.filter((i) => i.op === "FROM").map((i) => i.args)).toEqual([
      "${NODE_IMAGE} AS build",
      "${NODE_IMAGE} AS deps",
      "${NODE_IMAGE} AS runtime",
    ]);
  });

  it("compiles in the build stage and installs production dependencies only, without scripts, for the runtime", () => {
    expect(args("build", "RUN")).toEqual(
      expect.arrayContaining(["npm ci --no-audit --no-fund", "npm run build"]),
    );
    expect(args("deps", "RUN")).toEqual([
      "npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force",
    ]);
  });

  it("ships only dist/, proto/, artifacts/, package.json and the production node_modules", () => {
    expect(args("runtime", "COPY")).toEqual([
      "--from=deps /app/node_modules ./node_modules",
      "--from=build /app/dist ./dist",
      "package.json ./",
      "proto ./proto",
      "artifacts ./artifacts",
    ]);
    // No compiler or package installs in the final image.
    expect(args("runtime", "RUN")).toEqual([]);
  });

  it("runs as a numeric non-root user, on 50051 (gRPC) and 8080 (HTTP), with production settings", () => {
    const [user] = args("runtime", "USER");
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(args("runtime", "EXPOSE")).toEqual(["50051 8080"]);
    expect(args("runtime", "ENV").join(" ")).toMatch(/\bNODE_ENV=production\b/);
    expect(args("runtime", "ENV").join(" ")).toMatch(/\bIRIS_PORT=50051\b/);
    expect(args("runtime", "ENV").join(" ")).toMatch(/\bIRIS_HTTP_PORT=8080\b/);
  });

  it("has an exec-form HEALTHCHECK doing a gRPC health check, and an exec-form entry point that serves", () => {
    const [healthcheck] = args("runtime", "HEALTHCHECK");
    const cmd = /\bCMD\s+(\[.*\])$/.exec(healthcheck!)?.[1];
    expect(JSON.parse(cmd!).slice(0, 4)).toEqual(["node", "dist/cli/main.js", "health", "--timeout-ms"]);
    expect(healthcheck).toMatch(/--interval=\d+s --timeout=\d+s/);
    expect(JSON.parse(args("runtime", "ENTRYPOINT")[0]!)).toEqual(["node", "dist/cli/main.js"]);
    expect(JSON.parse(args("runtime", "CMD")[0]!)).toEqual(["serve"]);
  });

  it("labels the image with OCI annotations and the model version", () => {
    const labels = args("runtime", "LABEL").join(" ");
    for (const key of ["title", "description", "licenses", "source", "version", "revision", "created"]) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
    expect(labels).toContain('io.iris-serve.model.version="${MODEL_VERSION}"');
    expect(args("runtime", "ARG")).toContain('MODEL_VERSION=""');
    // The build refuses a MODEL_VERSION that is not the model inside.
    expect(args("build", "RUN").some((r) => r.includes("MODEL_VERSION") && r.includes("artifacts/model.json"))).toBe(true);
  });
});

describe(".dockerignore", () => {
  const rules = readFileSync(path.join(REPO, ".dockerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));

  /** Docker's rule: the last matching pattern wins; a pattern matches a path or any folder above it. */
  function ignored(file: string): boolean {
    let result = false;
    for (const rule of rules) {
      const negate = rule.startsWith("!");
      const pattern = (negate ? rule.slice(1) : rule).replace(/\/$/, "");
      const regex = new RegExp(
        `^${pattern
          .split("/")
          .map((part) =>
            part === "**" ? ".*" : part.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]"),
          )
          .join("/")
          .replace(/^\.\*\//, "(.*/)?")}$`,
      );
      const parts = file.split("/");
      const matches = parts.some((_, i) => regex.test(parts.slice(0, i + 1).join("/")));
      if (matches) result = !negate;
    }
    return result;
  }

  function walk(dir: string): string[] {
    return readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((entry) => {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) return [".git", "node_modules"].includes(rel) ? [`${rel}/`] : walk(rel);
      return [rel];
    });
  }

  it("lets only the build inputs into the context: no .git, node_modules, tests, scripts but the bundler's, or docs", () => {
    const context = walk("").filter((file) => !ignored(file.replace(/\/$/, "")));
    expect(context.length).toBeGreaterThan(0);
    for (const file of context) {
      expect(file).toMatch(/^(package\.json|package-lock\.json|tsconfig(\.build)?\.json|scripts\/build\.mjs|(src|proto|artifacts)\/.+)$/);
      expect(file).not.toMatch(/\.test\.ts$/);
    }
    for (const file of [".git", "node_modules", "test/health-command.test.ts", "scripts/container-check.sh", "dist"]) {
      expect(ignored(file), file).toBe(true);
    }
  });

  it("lets in everything the Dockerfile copies from the context", () => {
    const sources = instructions
      .filter((i) => i.op === "COPY" && !i.args.startsWith("--from="))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(["package.json", "package-lock.json", "scripts/build.mjs", "src", "proto", "artifacts"]));
    for (const source of sources) expect(ignored(source), source).toBe(false);
  });
});

describe("container scripts", () => {
  const scripts = readdirSync(path.join(REPO, "scripts")).filter((name) => name.endsWith(".sh"));

  it("are valid bash", async () => {
    expect(scripts).toEqual(expect.arrayContaining(["container-build.sh", "container-check.sh", "container-lib.sh"]));
    for (const name of scripts) await run("bash", ["-n", path.join(REPO, "scripts", name)]);
  });

  it("refuse an unknown container engine with a clear message", async () => {
    const result = await run("bash", [path.join(REPO, "scripts", "container-check.sh")], {
      cwd: REPO,
      env: { ...process.env, CONTAINER_ENGINE: "lxc" },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('container: CONTAINER_ENGINE must be docker or podman, got "lxc"');
  });
});
