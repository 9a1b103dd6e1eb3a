/**
 * The checks the CI workflow runs, each shown to catch what it is for, on
 * small copies of the project in temp dirs:
 *  - scripts/check-generated.sh: a stale, missing or outdated generated file;
 *  - scripts/check-breaking.sh: a proto change that breaks compatibility;
 *  - scripts/check-reproducible.sh: a committed model that training does not reproduce;
 *  - the quality gate (`npm run train -- --min-accuracy X`): accuracy under X
 *    fails the run and leaves the artifacts untouched.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const TSX = path.join(REPO, "node_modules", ".bin", "tsx");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd: options.cwd ?? REPO, env: { ...process.env, ...options.env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const script = (name: string, project: string, args: string[] = []) =>
  run("bash", [path.join(REPO, "scripts", name), ...args], { env: { IRIS_PROJECT_DIR: project } });

const GIT_ENV = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
};
async function git(cwd: string, ...args: string[]): Promise<void> {
  const result = await run("git", args, { cwd, env: GIT_ENV });
  expect(result.code, `git ${args.join(" ")}: ${result.stderr}`).toBe(0);
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "iris-delivery-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A fresh folder under the scratch dir. */
async function folder(name: string): Promise<string> {
  const dir = path.join(scratch, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

async function edit(file: string, from: string | RegExp, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  const next = text.replace(from, to);
  expect(next, `${file}: ${String(from)} not found`).not.toBe(text);
  await writeFile(file, next);
}

describe("scripts/check-generated.sh", () => {
  /** The proto, the buf configs and the committed generated code. */
  async function copy(name: string): Promise<string> {
    const dir = await folder(name);
    for (const entry of ["package.json", "buf.yaml", "buf.gen.yaml", "proto", "src/gen", "src/model/gen"]) {
      await cp(path.join(REPO, entry), path.join(dir, entry), { recursive: true });
    }
    // `npm run generate` runs buf and its plugin from ./node_modules.
    await symlink(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    return dir;
  }

  it("passes when src/gen is what the proto generates", async () => {
    const result = await script("check-generated.sh", await copy("gen-ok"));
    expect(result.stderr).toBe("");
    expect(result).toMatchObject({ code: 0, stdout: "check-generated: src/gen up to date with proto/, src/model/gen with scripts/generate-kernel.ts\n" });
  });

  it("fails on a stale (hand-edited) generated file and shows the diff", async () => {
    const dir = await copy("gen-stale");
    await edit(path.join(dir, "src/gen/iris.ts"), "export interface Flower {", "export interface Flower {\n  extra?: number;");
    const result = await script("check-generated.sh", dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("check-generated: src/gen differs from what npm run generate makes from the proto:");
    expect(result.stderr).toContain("-  extra?: number;");
    expect(result.stderr).toContain("run `npm run generate` and commit the result");
  });

  it("fails when a generated file is missing, or the proto changed without regenerating", async () => {
    const missing = await copy("gen-missing");
    await rm(path.join(missing, "src/gen/iris.ts"));
    const gone = await script("check-generated.sh", missing);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/Only in .*src\/gen: iris\.ts/);

    const outdated = await copy("gen-outdated");
    await writeFile(
      path.join(outdated, "proto/iris.proto"),
      `${await readFile(path.join(outdated, "proto/iris.proto"), "utf8")}\n// A note for callers.\nmessage Note {\n  // Text.\n  string text = 1;\n}\n`,
    );
    const stale = await script("check-generated.sh", outdated);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("+export interface Note {");
  });
});

describe("scripts/check-breaking.sh", () => {
  /** A git repo whose main branch holds the current contract. */
  async function repo(name: string): Promise<string> {
    const dir = await folder(name);
    await cp(path.join(REPO, "buf.yaml"), path.join(dir, "buf.yaml"));
    await cp(path.join(REPO, "proto"), path.join(dir, "proto"), { recursive: true });
    await git(dir, "init", "-q", "-b", "main");
    await git(dir, "add", ".");
    await git(dir, "commit", "-q", "-m", "contract");
    return dir;
  }

  it("passes for an unchanged contract and for a compatible addition", async () => {
    const dir = await repo("breaking-ok");
    const same = await script("check-breaking.sh", dir);
    expect(same).toMatchObject({ code: 0, stdout: "check-breaking: proto/ is compatible with main\n" });
    await edit(path.join(dir, "proto/iris.proto"), /(message Flower \{)/, "// Added later.\nmessage Note {\n  // Text.\n  string text = 1;\n}\n\n$1");
    expect((await script("check-breaking.sh", dir)).code).toBe(0);
  });

  it("fails when an RPC is removed, on a branch compared with main as CI does", async () => {
    const dir = await repo("breaking-rpc");
    await git(dir, "checkout", "-q", "-b", "feature");
    await edit(path.join(dir, "proto/iris.proto"), "rpc Predict(", "rpc Classify(");
    await git(dir, "commit", "-q", "-am", "rename Predict");
    const result = await script("check-breaking.sh", dir, ["main"]);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain('Previously present RPC "Predict" on service "IrisService" was deleted.');
    expect(result.stderr).toContain("check-breaking: proto/ breaks compatibility with main");
  });

  it("fails when a field changes type", async () => {
    const dir = await repo("breaking-field");
    await edit(path.join(dir, "proto/iris.proto"), /optional double sepal_length = 1;/, "optional float sepal_length = 1;");
    const result = await script("check-breaking.sh", dir);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toMatch(/changed type from "double" to "float"/);
  });

  it("fails clearly for a ref it cannot find", async () => {
    const result = await script("check-breaking.sh", await repo("breaking-ref"), ["origin/nope"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('check-breaking: unknown git ref "origin/nope"');
  });
});

describe("scripts/check-reproducible.sh", () => {
  /** A project with the data and artifacts trained from it, as committed. */
  async function project(name: string, trainArgs: string[] = []): Promise<string> {
    const dir = await folder(name);
    await cp(path.join(REPO, "data/iris.csv"), path.join(dir, "data/iris.csv"));
    const trained = await run(TSX, [path.join(REPO, "src/cli/main.ts"), "train", "--out", "artifacts", ...trainArgs], {
      cwd: dir,
    });
    expect(trained.code, trained.stderr).toBe(0);
    return dir;
  }

  it("passes when training reproduces the committed artifacts byte for byte", async () => {
    const dir = await project("repro-ok");
    const version = (JSON.parse(await readFile(path.join(dir, "artifacts/model.json"), "utf8")) as { version: string })
      .version;
    const result = await script("check-reproducible.sh", dir);
    expect(result.stderr).toBe("");
    expect(result).toMatchObject({ code: 0, stdout: `check-reproducible: ${version} reproduced byte for byte\n` });
  });

  it("fails when the committed model was changed by hand, naming the field", async () => {
    const dir = await project("repro-edited");
    await edit(path.join(dir, "artifacts/model.json"), /("intercepts": \[)(-?\d)/, "$1$2$2");
    const result = await script("check-reproducible.sh", dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("check-reproducible: the fresh model.json differs from artifacts/model.json");
    expect(result.stderr).toMatch(/^ {2}intercepts: /m);
    expect(result.stderr).toContain("run npm run train and commit artifacts/");
  });

  it("fails when the committed model came from other options or other data", async () => {
    const options = await script("check-reproducible.sh", await project("repro-options", ["--c", "0.5"]));
    expect(options.code).toBe(1);
    expect(options.stderr).toMatch(/^ {2}version: /m);
    expect(options.stderr).toMatch(/^ {2}coefficients: /m);

    const data = await project("repro-data");
    await edit(path.join(data, "data/iris.csv"), /\n5\.1,3\.5,1\.4,0\.2,/, "\n5.1,3.5,1.4,0.3,");
    const result = await script("check-reproducible.sh", data);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("the fresh model.json differs");
  });

  it("compares a folder trained elsewhere (the CI job's quality-gated run)", async () => {
    const dir = await project("repro-dir");
    const fresh = path.join(dir, "fresh");
    await cp(path.join(dir, "artifacts"), fresh, { recursive: true });
    expect((await script("check-reproducible.sh", dir, [fresh])).code).toBe(0);
    await edit(path.join(fresh, "metrics.json"), /\d/, "7");
    const changed = await script("check-reproducible.sh", dir, [fresh]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain("the fresh metrics.json differs from artifacts/metrics.json");
    const empty = await script("check-reproducible.sh", dir, [await folder("repro-empty")]);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("no model.json in");
  });

  it("passes for this project's committed artifacts", async () => {
    const result = await script("check-reproducible.sh", REPO);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });
});

describe("the training quality gate (npm run train -- --min-accuracy)", () => {
  it("fails below the gate with exit 1 and leaves the artifacts untouched", async () => {
    const dir = await folder("gate");
    // Labels that have nothing to do with the measurements: held-out accuracy near chance.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 5 + 0.5;
    const species = ["setosa", "versicolor", "virginica"];
    const rows = Array.from({ length: 90 }, (_, i) =>
      [random(), random(), random(), random()].map((v) => v.toFixed(1)).concat(species[i % 3]!).join(","),
    );
    const data = path.join(dir, "noise.csv");
    await writeFile(data, `sepal_length,sepal_width,petal_length,petal_width,species\n${rows.join("\n")}\n`);
    const out = path.join(dir, "artifacts");
    await mkdir(out);
    await writeFile(path.join(out, "model.json"), "the committed model\n");

    const result = await run("npm", ["run", "--silent", "train", "--", "--data", data, "--out", out, "--min-accuracy", "0.9"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/accuracy/i);
    expect(result.stderr).toContain("0.9");
    expect(await readdir(out)).toEqual(["model.json"]);
    expect(await readFile(path.join(out, "model.json"), "utf8")).toBe("the committed model\n");

    // The same data passes a gate it meets, and then writes the artifacts.
    const passed = await run("npm", ["run", "--silent", "train", "--", "--data", data, "--out", out, "--min-accuracy", "0"]);
    expect(passed.code, passed.stderr).toBe(0);
    expect((await readdir(out)).sort()).toEqual(["metrics.json", "model.json", "report.html", "report.md"]);
  });
});
