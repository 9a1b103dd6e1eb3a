/**
 * Where `iris predict`, `iris info` and `iris serve` find the model when
 * neither --model nor IRIS_MODEL names one: artifacts/model.json in the
 * working directory, else the model the package ships (an installed `iris`
 * run from anywhere); and `iris --version`. The CLI runs as a subprocess from
 * directories outside the checkout.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL_PATH, defaultModelPath, loadModelPath, PACKAGED_MODEL_PATH } from "../src/config.js";
import { Code } from "../src/errors.js";
import { loadModelFile } from "../src/model/index.js";
import { referenceArtifact } from "./support/service-fixtures.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const COMMITTED_MODEL = join(REPO, "artifacts/model.json");

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** `iris ...args` from the sources, run in `cwd`, without IRIS_MODEL. */
function iris(cwd: string, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", TSX, join(REPO, "src/cli/main.ts"), ...args],
      { cwd, env: { ...process.env, IRIS_MODEL: "" } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

let root: string;
/** A directory with no model in it. */
let bare: string;
/** A directory with its own artifacts/model.json, a different model from the committed one. */
let withModel: string;
let ownVersion: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "iris-model-path-"));
  bare = join(root, "bare");
  withModel = join(root, "project");
  await Promise.all([mkdir(bare), mkdir(join(withModel, "artifacts"), { recursive: true })]);
  const artifact = await referenceArtifact();
  ownVersion = artifact.version;
  await writeFile(join(withModel, DEFAULT_MODEL_PATH), JSON.stringify(artifact));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the default model path (src/config.ts)", () => {
  it("is the working directory's artifacts/model.json when it exists, else the model beside src/ and dist/", async () => {
    expect(PACKAGED_MODEL_PATH).toBe(COMMITTED_MODEL);
    expect(defaultModelPath(bare)).toBe(PACKAGED_MODEL_PATH);
    expect(defaultModelPath(withModel)).toBe(DEFAULT_MODEL_PATH);
    expect(ownVersion).not.toBe((await loadModelFile(COMMITTED_MODEL)).version);
  });

  it("gives way to --model, then IRIS_MODEL; an empty variable is unset, an empty flag an error", () => {
    const env = { IRIS_MODEL: "from-env.json" };
    expect(loadModelPath({ flags: { modelPath: "from-flag.json" }, env, cwd: bare })).toBe("from-flag.json");
    expect(loadModelPath({ env, cwd: bare })).toBe("from-env.json");
    expect(loadModelPath({ env: { IRIS_MODEL: "" }, cwd: bare })).toBe(PACKAGED_MODEL_PATH);
    expect(loadModelPath({ env: {}, cwd: withModel })).toBe(DEFAULT_MODEL_PATH);
    expect(() => loadModelPath({ flags: { modelPath: " " }, cwd: bare })).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, message: '--model must be the path of a model artifact, got " "' }),
    );
  });
});

describe("iris outside a checkout", () => {
  it("predicts with the model the package ships where there is none, and info names it", async () => {
    const input = "[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]";
    const [here, explicit, info] = await Promise.all([
      iris(bare, "predict", "--input", input),
      iris(bare, "predict", "--model", COMMITTED_MODEL, "--input", input),
      iris(bare, "info"),
    ]);
    expect(here.code, here.stderr).toBe(0);
    expect(here.stdout).toBe(explicit.stdout);
    expect(JSON.parse(here.stdout)).toMatchObject({ species: ["setosa", "virginica"] });
    expect(info.code, info.stderr).toBe(0);
    expect(info.stderr).toBe(`iris info: model file ${COMMITTED_MODEL}\n`);
    expect(JSON.parse(info.stdout)).toMatchObject({ version: (await loadModelFile(COMMITTED_MODEL)).version });
  });

  it("uses the working directory's artifacts/model.json first", async () => {
    const [predicted, info] = await Promise.all([iris(withModel, "predict", "--input", "[5.1,3.5,1.4,0.2]"), iris(withModel, "info")]);
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(JSON.parse(predicted.stdout)).toMatchObject({ model: ownVersion });
    expect(info.stderr).toBe(`iris info: model file ${DEFAULT_MODEL_PATH}\n`);
    expect(JSON.parse(info.stdout)).toMatchObject({ version: ownVersion });
  });

  it("iris --version and -V print the version in package.json", async () => {
    const { version } = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { version: string };
    const [long, short] = await Promise.all([iris(bare, "--version"), iris(bare, "-V")]);
    expect(long).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
    expect(short).toEqual(long);
  });
});
