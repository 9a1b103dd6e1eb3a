/**
 * Every kind of artifact corruption is rejected by validateArtifact /
 * parseModel / loadModelFile with a message naming the file and the field.
 * The artifact under test is a real one, trained in-process.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, IrisError } from "../src/errors.js";
import { loadModelFile, modelVersion, parseModel, validateArtifact } from "../src/model/index.js";
import { train } from "../src/training/index.js";

/** An artifact as parsed JSON, loosely typed so that tests can spoil any part of it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Artifact = Record<string, any>;

let text: string;
let dir: string;
beforeAll(async () => {
  const run = await train({});
  text = run.files.find((f) => f.name === "model.json")!.content;
  dir = await mkdtemp(join(tmpdir(), "iris-model-artifact-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh copy of the good artifact, altered by `edit`. */
function corrupt(edit: (a: Artifact) => void): Artifact {
  const a = JSON.parse(text) as Artifact;
  edit(a);
  return a;
}

/** The version the parameters of `a` hash to. */
function hashOf(a: Artifact): string {
  return modelVersion({
    features: (a.features as { name: string }[]).map((f) => f.name),
    classes: a.classes as string[],
    coefficients: a.coefficients as number[][],
    intercepts: a.intercepts as number[],
  });
}

function rejection(value: unknown): IrisError {
  try {
    validateArtifact(value, "m.json");
  } catch (err) {
    expect(err).toBeInstanceOf(IrisError);
    expect((err as IrisError).code).toBe(Code.FAILED_PRECONDITION);
    return err as IrisError;
  }
  throw new Error("expected the artifact to be rejected");
}

describe("validateArtifact", () => {
  it("accepts the trained artifact", () => {
    expect(validateArtifact(JSON.parse(text), "m.json").name).toBe("iris-logreg");
  });

  it("accepts what the trainer writes with --test-fraction 0 and SOURCE_DATE_EPOCH (no held-out figures, createdAt)", async () => {
    const run = await train({ testFraction: 0, createdAt: "2023-11-14T22:13:20.000Z" });
    const a = validateArtifact(JSON.parse(run.files.find((f) => f.name === "model.json")!.content), "m.json");
    expect(a.metrics.heldOut).toBeNull();
    expect(a.training.split.method).toBe("none (all rows train)");
    expect(a.createdAt).toBe("2023-11-14T22:13:20.000Z");
  });

  // Each: how the artifact is spoiled, and the whole message (path, then what is wrong).
  it.each<[string, (a: Artifact) => void, string]>([
    ["wrong format", (a) => (a.format = "iris-serve.model.v0"), 'format: expected "iris-serve.model.v1", got "iris-serve.model.v0"'],
    ["missing format", (a) => delete a.format, 'format: expected "iris-serve.model.v1", but the key is missing'],
    [
      "a file of another kind (its kind is named first)",
      (a) => {
        for (const key of Object.keys(a)) if (key !== "format") delete a[key];
      },
      'algorithm: expected "multinomial-logistic-regression", but the key is missing',
    ],
    ["wrong algorithm", (a) => (a.algorithm = "svm"), 'algorithm: expected "multinomial-logistic-regression", got "svm"'],
    ["missing version", (a) => delete a.version, "version: expected 16 lowercase hex digits, but the key is missing"],
    ["a name that is not a string", (a) => (a.name = 5), "name: expected a non-empty string, got 5"],
    ["too few coefficient rows", (a) => a.coefficients.pop(), "coefficients: expected 3 entries (one per class), got 2"],
    ["a short coefficient row", (a) => a.coefficients[1]!.pop(), "coefficients[1]: expected 4 entries (one per feature), got 3"],
    ["coefficients not an array", (a) => (a.coefficients = {}), "coefficients: expected an array, got an object"],
    ["NaN written as null", (a) => (a.coefficients[0]![2] = null), "coefficients[0][2]: expected a finite number, got null"],
    ["a string coefficient", (a) => (a.coefficients[2]![0] = "0.5"), 'coefficients[2][0]: expected a finite number, got "0.5"'],
    ["a string intercept", (a) => (a.intercepts[1] = "x"), 'intercepts[1]: expected a finite number, got "x"'],
    ["too many intercepts", (a) => a.intercepts.push(0), "intercepts: expected 3 entries (one per class), got 4"],
    ["duplicate classes", (a) => (a.classes[2] = "setosa"), 'classes[2]: duplicate name "setosa"'],
    ["an empty class name", (a) => (a.classes[0] = " "), 'classes[0]: expected a non-empty string, got " "'],
    ["a single class", (a) => a.classes.splice(1), "classes: expected at least 2 entries, got 1"],
    ["no features", (a) => (a.features = []), "features: expected at least 1 entry, got 0"],
    ["duplicate features", (a) => (a.features[3]!.name = "sepal_length"), 'features[3]: duplicate name "sepal_length"'],
    ["a feature without unit", (a) => delete a.features[0]!.unit, "features[0].unit: expected a non-empty string, but the key is missing"],
    ["a feature statistic not a number", (a) => (a.features[1]!.std = "wide"), 'features[1].std: expected a finite number >= 0, got "wide"'],
    ["a feature whose min exceeds its max", (a) => (a.features[2]!.min = 9), "features[2]: min 9 is greater than max 6.9"],
    ["no hyperparameters", (a) => delete a.hyperparameters, "hyperparameters: expected an object, but the key is missing"],
    ["C missing", (a) => delete a.hyperparameters.C, "hyperparameters.C: expected a finite number > 0, but the key is missing"],
    ["C = 0", (a) => (a.hyperparameters.C = 0), "hyperparameters.C: expected a finite number > 0, got 0"],
    ["another penalty", (a) => (a.hyperparameters.penalty = "l1"), 'hyperparameters.penalty: expected "l2", got "l1"'],
    [
      "a string seed (it used to load, then break every ModelInfo answer)",
      (a) => (a.hyperparameters.seed = "42"),
      'hyperparameters.seed: expected an integer from 0 to 4294967295, got "42"',
    ],
    [
      "a seed of 2^60 (no JavaScript number holds it exactly)",
      (a) => (a.hyperparameters.seed = 2 ** 60),
      "hyperparameters.seed: expected an integer from 0 to 4294967295, got 1152921504606847000",
    ],
    [
      "a string maxIter",
      (a) => (a.hyperparameters.maxIter = "100"),
      'hyperparameters.maxIter: expected an integer from 1 to 2147483647, got "100"',
    ],
    ["a fractional fold count", (a) => (a.hyperparameters.folds = 2.5), "hyperparameters.folds: expected an integer from 2 to 2147483647, got 2.5"],
    ["testFraction 1", (a) => (a.hyperparameters.testFraction = 1), "hyperparameters.testFraction: expected a finite number >= 0 and < 1, got 1"],
    [
      "a misspelt hyperparameter (the unknown key is named, not the missing one)",
      (a) => {
        a.hyperparameters.sed = a.hyperparameters.seed;
        delete a.hyperparameters.seed;
      },
      "hyperparameters.sed: unknown key (allowed: C, penalty, maxIter, tol, testFraction, seed, folds)",
    ],
    [
      "an unknown top-level key",
      (a) => (a.notes = "x"),
      "notes: unknown key (allowed: format, algorithm, name, version, createdAt, features, classes, coefficients, intercepts, hyperparameters, training, metrics)",
    ],
    [
      "an unknown feature key",
      (a) => (a.features[0]!.scale = 1),
      "features[0].scale: unknown key (allowed: name, unit, min, max, mean, std)",
    ],
    ["a createdAt that is not a time", (a) => (a.createdAt = "yesterday"), 'createdAt: expected an ISO 8601 UTC time such as 2024-05-01T12:00:00.000Z, got "yesterday"'],
    ["training not an object", (a) => (a.training = []), "training: expected an object, got an array"],
    ["training.dataset missing", (a) => delete a.training.dataset, "training.dataset: expected an object, but the key is missing"],
    [
      "a dataset checksum that is not one",
      (a) => (a.training.dataset.sha256 = "abc"),
      'training.dataset.sha256: expected 64 lowercase hex digits (a SHA-256), got "abc"',
    ],
    ["a negative class count", (a) => (a.training.dataset.classCounts.setosa = -1), "training.dataset.classCounts.setosa: expected an integer >= 0, got -1"],
    [
      "an unknown split method",
      (a) => (a.training.split.method = "random"),
      'training.split.method: expected "stratified-shuffle" or "none (all rows train)", got "random"',
    ],
    ["converged as a string", (a) => (a.training.optimizer.converged = "yes"), 'training.optimizer.converged: expected true or false, got "yes"'],
    ["an empty library version", (a) => (a.training.libraries["iris-serve"] = ""), 'training.libraries["iris-serve"]: expected a non-empty string, got ""'],
    [
      "an unknown key in the provenance",
      (a) => (a.training.host = "build-7"),
      "training.host: unknown key (allowed: dataset, trainRows, testRows, seed, split, optimizer, libraries)",
    ],
    ["metrics missing", (a) => delete a.metrics, "metrics: expected an object, but the key is missing"],
    ["held-out figures of the wrong kind", (a) => (a.metrics.heldOut = "n/a"), 'metrics.heldOut: expected an object or null, got "n/a"'],
    [
      "a recall above 1",
      (a) => (a.metrics.heldOut.perClass[1].recall = 2),
      "metrics.heldOut.perClass[1].recall: expected a finite number from 0 to 1, got 2",
    ],
    [
      "an unknown key in the metrics",
      (a) => (a.metrics.heldOut.auc = 0.99),
      "metrics.heldOut.auc: unknown key (allowed: rows, correct, accuracy, macroF1, perClass, confusionMatrix, logLoss)",
    ],
    [
      "a tampered coefficient",
      (a) => (a.coefficients[0]![0] = (a.coefficients[0]![0] as number) + 1e-9),
      'version: "%v" does not match the parameters (their hash is "%s"); the file was altered or corrupted',
    ],
    [
      "a tampered version",
      (a) => (a.version = "0000000000000000"),
      'version: "0000000000000000" does not match the parameters (their hash is "%v"); the file was altered or corrupted',
    ],
  ])("rejects %s", (_name, edit, message) => {
    const spoiled = corrupt(edit);
    const expected = message.includes("%")
      ? message.replace("%v", (JSON.parse(text) as Artifact).version).replace("%s", hashOf(spoiled))
      : message;
    expect(rejection(spoiled).message).toBe(`m.json: invalid model artifact: ${expected}`);
  });

  it("rejects a number too large for a double, which JSON.parse makes Infinity", () => {
    const huge = text.replace(/"mean": [^,]+,/, '"mean": 1e999,');
    expect(huge).not.toBe(text);
    expect(() => parseModel(huge, "m.json")).toThrow(
      expect.objectContaining({
        code: Code.FAILED_PRECONDITION,
        message: "m.json: invalid model artifact: features[0].mean: expected a finite number, got Infinity",
      }),
    );
  });

  it("rejects what is not an object", () => {
    expect(rejection([]).message).toBe("m.json: invalid model artifact: $: expected a JSON object, got an array");
    expect(rejection(null).message).toBe("m.json: invalid model artifact: $: expected a JSON object, got null");
  });
});

describe("parseModel and loadModelFile", () => {
  it("reject truncated or malformed JSON, naming file:line:column", () => {
    const half = text.slice(0, text.length / 2);
    const lines = half.split("\n");
    expect(() => parseModel(half, "m.json")).toThrow(
      new RegExp(`^m\\.json:${lines.length}:${lines.at(-1)!.length + 1}: not valid JSON: `),
    );
    expect(() => parseModel('{\n  "format": "iris-serve.model.v1",\n  oops\n}\n', "m.json")).toThrow(
      /^m\.json:3:3: not valid JSON: /,
    );
    expect(() => parseModel("", "m.json")).toThrow(/^m\.json:1:1: not valid JSON: /);
  });

  it("load the good file and reject a missing one (NOT_FOUND) or a corrupted one", async () => {
    const good = join(dir, "model.json");
    await writeFile(good, text);
    const model = await loadModelFile(good);
    expect(model.classes).toEqual(["setosa", "versicolor", "virginica"]);

    const missing = join(dir, "absent.json");
    await expect(loadModelFile(missing)).rejects.toMatchObject({ code: Code.NOT_FOUND, message: `${missing}: model file not found` });

    const bad = join(dir, "bad.json");
    await writeFile(bad, text.replace('"format": "iris-serve.model.v1"', '"format": "something-else"'));
    await expect(loadModelFile(bad)).rejects.toThrow(`${bad}: invalid model artifact: format`);

    const truncated = join(dir, "truncated.json");
    await writeFile(truncated, text.slice(0, 100));
    await expect(loadModelFile(truncated)).rejects.toMatchObject({ code: Code.FAILED_PRECONDITION });

    await expect(loadModelFile(dir)).rejects.toThrow(`${dir}: cannot read model file: is a directory, not a file`);
  });
});
