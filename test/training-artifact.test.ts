import { spawnSync } from "node:child_process";
import { chmod, mkdir, readdir, readFile, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, IrisError } from "../src/errors.js";
import { ARTIFACT_FORMAT, IrisModel, loadModelFile, modelVersion, validateArtifact } from "../src/model/index.js";
import {
  checkQualityGate,
  checkTrainOptions,
  createdAtFromEpoch,
  formatJson,
  OUTPUT_FILES,
  recordedPath,
  train,
  recoverFileSet,
  writeFileSet,
  writeTrainingOutputs,
} from "../src/training/index.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "iris-artifact-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readAll(out: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of OUTPUT_FILES) files[name] = await readFile(join(out, name), "utf8");
  return files;
}

describe("training run and its artifacts", () => {
  it("writes the four files, byte-identical across runs, and nothing else", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await writeTrainingOutputs(await train({ out: a }));
    await writeTrainingOutputs(await train({ out: b }));
    const first = await readAll(a);
    expect(await readAll(b)).toEqual(first);
    expect((await readdir(a)).sort()).toEqual([...OUTPUT_FILES].sort());
    // Two writes into the same directory: still the same bytes, no temp files left.
    await writeTrainingOutputs(await train({ out: a }));
    expect(await readAll(a)).toEqual(first);
    expect((await readdir(a)).sort()).toEqual([...OUTPUT_FILES].sort());
  });

  it("produces an artifact that validates and loads, with the fields the issue lists", async () => {
    const out = join(dir, "fields");
    const run = await train({ out });
    await writeTrainingOutputs(run);
    const model = await loadModelFile(join(out, "model.json"));
    const a = model.artifact;
    expect(a.format).toBe(ARTIFACT_FORMAT);
    expect(a.name).toBe("iris-logreg");
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(a.features.map((f) => [f.name, f.unit])).toEqual([
      ["sepal_length", "cm"],
      ["sepal_width", "cm"],
      ["petal_length", "cm"],
      ["petal_width", "cm"],
    ]);
    expect(a.classes).toEqual(["setosa", "versicolor", "virginica"]);
    expect(a.coefficients).toHaveLength(3);
    expect(Math.abs(a.intercepts.reduce((s, v) => s + v, 0))).toBeLessThan(1e-12);
    expect(a.hyperparameters).toEqual({ C: 1, penalty: "l2", maxIter: 100, tol: 1e-10, testFraction: 0.2, seed: 42, folds: 5 });
    const t = a.training;
    expect(t.dataset).toEqual({
      path: "data/iris.csv",
      sha256: "9cc1c345c71bcc9b486b74cbf6063fa66f4bb5e0f603a4b3c3471ec2e5e8e355",
      rows: 150,
      classCounts: { setosa: 50, versicolor: 50, virginica: 50 },
    });
    expect([t.trainRows, t.testRows, t.seed]).toEqual([120, 30, 42]);
    expect(t.split.trainClassCounts).toEqual({ setosa: 40, versicolor: 40, virginica: 40 });
    expect(t.optimizer.converged).toBe(true);
    expect(t.optimizer.iterations).toBe(run.fit.iterations);
    expect(t.optimizer.gradientNorm).toBeLessThanOrEqual(1e-10);
    const pkg = JSON.parse(await readFile("package.json", "utf8")) as { version: string; dependencies: Record<string, string> };
    expect(t.libraries).toEqual({
      "iris-serve": pkg.version,
      "ml-matrix": pkg.dependencies["ml-matrix"],
      "csv-parse": pkg.dependencies["csv-parse"],
    });
    expect(a).not.toHaveProperty("createdAt");
    // Training statistics are over the 120 training rows.
    const petal = a.features[2]!;
    expect(petal.min).toBeGreaterThanOrEqual(1);
    expect(petal.max).toBeLessThanOrEqual(6.9);
    // Held-out metrics are consistent with each other.
    const held = a.metrics.heldOut!;
    expect(held.rows).toBe(30);
    expect(held.confusionMatrix.flat().reduce((s, v) => s + v, 0)).toBe(30);
    expect(held.confusionMatrix.reduce((s, row, i) => s + row[i]!, 0)).toBe(held.correct);
    expect(held.accuracy).toBe(held.correct / 30);
    // metrics.json carries the same figures, tied to the version.
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as Record<string, unknown>;
    expect(metrics.model).toEqual({ name: "iris-logreg", version: a.version });
    expect(metrics.heldOut).toEqual(a.metrics.heldOut);
    expect(metrics.crossValidation).toEqual(a.metrics.crossValidation);
    // The report shows the confusion matrix and per-class scores.
    const html = await readFile(join(out, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).toContain(a.version);
    const md = await readFile(join(out, "report.md"), "utf8");
    expect(md).toContain("### Confusion matrix");
    expect(md).toContain("| setosa | 1.000 |");
  });

  it("its held-out figures are those of the saved model as the server loads it", async () => {
    const run = await train({});
    const model = new IrisModel(validateArtifact(JSON.parse(run.files.find((f) => f.name === "model.json")!.content)));
    const { x, y } = run.dataset;
    const matrix = [0, 1, 2].map(() => [0, 0, 0]);
    let loss = 0;
    for (const r of run.split.test) {
      const p = model.predict(x.subarray(r * 4, r * 4 + 4));
      matrix[y[r]!]![p.classIndex]!++;
      loss -= Math.log(p.probabilities[y[r]!]!);
    }
    const heldOut = run.artifact.metrics.heldOut!;
    expect(heldOut.confusionMatrix).toEqual(matrix);
    expect(Math.abs(heldOut.logLoss - loss / run.split.test.length)).toBeLessThan(1e-12);
  });

  it("the saved model is the one fitted on the training split; --test-fraction 0 fits all rows", async () => {
    const split = await train({});
    const all = await train({ testFraction: 0 });
    expect(all.metrics.heldOut).toBeNull();
    expect(all.split.train.length).toBe(150);
    expect(all.artifact.training.testRows).toBe(0);
    expect(all.artifact.version).not.toBe(split.artifact.version);
    expect(all.metrics.crossValidation.rows).toBe(150);
    // All rows with C=1: scikit-learn's optimum (see training-fit.test.ts).
    expect(all.artifact.coefficients[0]![0]).toBeCloseTo(-0.42350992, 7);
  });

  it("changes version with the parameters, not with anything else", async () => {
    const base = await train({});
    expect((await train({ C: 0.5 })).artifact.version).not.toBe(base.artifact.version);
    expect((await train({ seed: 7 })).artifact.version).not.toBe(base.artifact.version);
    // The fold count changes metrics only: same parameters, same version.
    const folds3 = await train({ folds: 3 });
    expect(folds3.artifact.version).toBe(base.artifact.version);
    expect(modelVersion({ ...base.artifact, features: base.artifact.features.map((f) => f.name) })).toBe(base.artifact.version);
  });

  it("writes createdAt only from SOURCE_DATE_EPOCH", async () => {
    expect(createdAtFromEpoch(undefined)).toBeUndefined();
    expect(createdAtFromEpoch("")).toBeUndefined();
    expect(createdAtFromEpoch("1700000000")).toBe("2023-11-14T22:13:20.000Z");
    expect(() => createdAtFromEpoch("yesterday")).toThrow(/SOURCE_DATE_EPOCH/);
    const run = await train({ createdAt: "2023-11-14T22:13:20.000Z" });
    expect(run.artifact.createdAt).toBe("2023-11-14T22:13:20.000Z");
    validateArtifact(JSON.parse(run.files.find((f) => f.name === "model.json")!.content));
  });

  it("warns when the optimizer does not converge", async () => {
    const run = await train({ maxIter: 2 });
    expect(run.fit.converged).toBe(false);
    expect(run.warnings[0]).toMatch(/did not converge in 2 iterations/);
    expect(run.artifact.training.optimizer.converged).toBe(false);
  });

  it("the quality gate fails below --min-accuracy and passes at or above it", async () => {
    const run = await train({ seed: 7, testFraction: 0.4, minAccuracy: 0.95 });
    expect(run.metrics.heldOut!.accuracy).toBeLessThan(0.95);
    expect(() => checkQualityGate(run)).toThrow(/held-out accuracy 0\.9333 \(56\/60\) is below --min-accuracy 0\.95/);
    try {
      checkQualityGate(run);
    } catch (err) {
      expect((err as IrisError).code).toBe(Code.FAILED_PRECONDITION);
    }
    const passing = await train({ minAccuracy: 0.9 });
    expect(() => checkQualityGate(passing)).not.toThrow();
  });
});

describe("options are checked up front", () => {
  it.each([
    [{ C: 0 }, "--c must be > 0, got 0"],
    [{ C: -1 }, "--c must be > 0, got -1"],
    [{ C: Number.NaN }, "--c must be a finite number, got NaN"],
    [{ testFraction: 1 }, "--test-fraction must be >= 0 and < 1, got 1"],
    [{ testFraction: -0.1 }, "--test-fraction must be >= 0 and < 1, got -0.1"],
    [{ seed: -1 }, "--seed must be a whole number from 0 to 4294967295, got -1"],
    [{ seed: 2 ** 32 }, "--seed must be a whole number from 0 to 4294967295, got 4294967296"],
    [{ folds: 1 }, "--folds must be a whole number >= 2, got 1"],
    [{ maxIter: 0 }, "--max-iter must be a whole number from 1 to 2147483647, got 0"],
    // iris.v1.Hyperparameters.max_iter is an int32: a larger limit could not be served.
    [{ maxIter: 2 ** 31 }, "--max-iter must be a whole number from 1 to 2147483647, got 2147483648"],
    [{ tol: 0 }, "--tol must be > 0, got 0"],
    [{ minAccuracy: 1.5 }, "--min-accuracy must be between 0 and 1, got 1.5"],
    [{ minAccuracy: 0.9, testFraction: 0 }, "--min-accuracy needs held-out rows: it cannot be used with --test-fraction 0"],
    [{ data: "" }, "--data must name a CSV file"],
  ])("%j → %s", (partial, message) => {
    expect(() => checkTrainOptions(partial)).toThrow(message);
  });

  it("checks folds against the smallest class of the training part, before fitting", async () => {
    await expect(train({ folds: 41 })).rejects.toThrow(
      '--folds 41 is more than the 40 training rows of "setosa"; use at most 40 folds',
    );
    await expect(train({ testFraction: 0.98 })).rejects.toThrow(
      'only 1 training row of "setosa" is left, too few to cross-validate; use a smaller --test-fraction than 0.98',
    );
    await expect(train({ testFraction: 0.99 })).rejects.toThrow(
      '--test-fraction 0.99 leaves no training rows of "setosa"; use a smaller fraction',
    );
  });

  it("refuses a C (or data) so large that the fit overflows float64, as a usage error", async () => {
    await expect(train({ C: 1e306, out: join(dir, "never") })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message:
        "the fit overflows float64 after 0 Newton steps (--c 1e+306, largest measurement 7.9 cm in data/iris.csv): " +
        "use a smaller --c, or rescale the data",
    });
    const huge = join(dir, "huge.csv");
    await writeFile(
      huge,
      "sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,a\n1e200,3,1,1,b\n5,3,1,0.2,a\n6,3,1,0.2,b\n",
    );
    await expect(train({ data: huge, testFraction: 0, folds: 2, out: join(dir, "never") })).rejects.toThrow(
      `the fit overflows float64 after 0 Newton steps (--c 1, largest measurement 1e+200 cm in ${huge})`,
    );
  });

  it("checks --out before training: a file there, or in its path, is a usage error", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "keep\n");
    await expect(train({ out: file })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: `--out ${file} is a file, not a directory`,
    });
    await expect(train({ out: join(file, "sub") })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: `--out ${join(file, "sub")}: part of the path is a file, not a directory`,
    });
    expect(await readFile(file, "utf8")).toBe("keep\n");
  });

  it("checks --out before training: files of its own there would be lost, so they are a usage error", async () => {
    const out = join(dir, "shared");
    await mkdir(out);
    await writeFile(join(out, "notes.txt"), "mine\n");
    await writeFile(join(out, "model.json"), "old\n");
    await expect(train({ out })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message:
        `--out ${out} also holds notes.txt: the trainer replaces the whole directory with its 4 files ` +
        "(so that they change together), which would lose them; move them, or choose another --out",
    });
    expect((await readdir(out)).sort()).toEqual(["model.json", "notes.txt"]);
  });

  it("records the data path as given, normalised", () => {
    expect(recordedPath("./data/iris.csv")).toBe("data/iris.csv");
    expect(recordedPath("data//iris.csv")).toBe("data/iris.csv");
  });
});

describe("writing", () => {
  it("formatJson is stable and refuses non-finite numbers", () => {
    expect(formatJson({ b: [1, 2.5, -0], a: { x: [[1, 2]], s: "é" } })).toBe(
      '{\n  "b": [1, 2.5, 0],\n  "a": {\n    "x": [\n      [1, 2]\n    ],\n    "s": "é"\n  }\n}\n',
    );
    expect(() => formatJson({ a: [1, Number.NaN] })).toThrow("$.a[1]: cannot write non-finite number NaN as JSON");
  });

  it("replaces nothing when a file cannot be staged, and leaves no temp files", async () => {
    const out = join(dir, "atomic");
    await writeFileSet(out, [{ name: "keep.txt", content: "old\n" }]);
    await expect(
      writeFileSet(out, [
        { name: "keep.txt", content: "new\n" },
        // Its temp file would go into a directory that does not exist: staging fails.
        { name: "missing/x.txt", content: "" },
      ]),
    ).rejects.toThrow(/ENOENT/);
    expect(await readdir(out)).toEqual(["keep.txt"]);
    expect(await readFile(join(out, "keep.txt"), "utf8")).toBe("old\n");
    expect((await readdir(dir)).filter((e) => e.startsWith(".atomic."))).toEqual([]);
  });

  it("removes the directories it created when staging fails", async () => {
    const parent = join(dir, "created");
    await expect(
      writeFileSet(join(parent, "a", "b"), [{ name: "missing/x.txt", content: "" }]),
    ).rejects.toThrow(/ENOENT/);
    await expect(readdir(parent)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a target that is a directory before replacing any file", async () => {
    const out = join(dir, "blocked");
    await writeFileSet(out, [{ name: "report.md", content: "old\n" }]);
    await mkdir(join(out, "model.json"));
    const run = await train({ out });
    await expect(writeTrainingOutputs(run)).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
      message: `cannot write to ${out}: ${join(out, "model.json")}: is a directory, not a file`,
    });
    expect((await readdir(out)).sort()).toEqual(["model.json", "report.md"]);
    expect(await readFile(join(out, "report.md"), "utf8")).toBe("old\n");
  });

  it("replaces the directory as a whole: the new set only, its mode kept, nothing left beside it", async () => {
    const out = join(dir, "whole");
    await writeFileSet(out, [
      { name: "a.txt", content: "a1\n" },
      { name: "b.txt", content: "b1\n" },
    ]);
    await chmod(out, 0o750);
    await writeFileSet(out, [
      { name: "a.txt", content: "a2\n" },
      { name: "b.txt", content: "b2\n" },
    ]);
    expect((await readdir(out)).sort()).toEqual(["a.txt", "b.txt"]);
    expect([await readFile(join(out, "a.txt"), "utf8"), await readFile(join(out, "b.txt"), "utf8")]).toEqual(["a2\n", "b2\n"]);
    expect((await stat(out)).mode & 0o777).toBe(0o750);
    expect((await readdir(dir)).filter((e) => e.startsWith(".whole."))).toEqual([]);
  });

  it("finishes a swap that a crash cut between its two renames, and removes what dead runs left", async () => {
    // A process that has exited: its pid names the leftovers of a dead run.
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    const parent = join(dir, "crashed");
    const out = join(parent, "artifacts");
    const aside = join(parent, `.artifacts.old-${dead}-abcd1234`);
    const staged = join(parent, `.artifacts.new-${dead}-abcd1234`);
    const partial = join(parent, `.artifacts.new-${dead}-ffff0000`);
    for (const [d, content] of [[aside, "old\n"], [staged, "new\n"], [partial, "part"]] as const) {
      await mkdir(d, { recursive: true });
      await writeFile(join(d, "model.json"), content);
    }
    // A staging directory of a run still going (this process) is left alone.
    const live = join(parent, `.artifacts.new-${process.pid}-0000aaaa`);
    await mkdir(live);
    expect((await recoverFileSet(out)).sort()).toEqual([aside, staged, partial].map((p) => p.slice(parent.length + 1)).sort());
    expect(await readFile(join(out, "model.json"), "utf8")).toBe("new\n");
    expect((await readdir(parent)).sort()).toEqual([".artifacts.new-" + process.pid + "-0000aaaa", "artifacts"]);
    // The next write recovers first too, then writes its set.
    await writeFileSet(out, [{ name: "model.json", content: "newer\n" }]);
    expect(await readFile(join(out, "model.json"), "utf8")).toBe("newer\n");
  });
});
