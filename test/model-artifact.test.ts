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
import { loadModelFile, parseModel, validateArtifact } from "../src/model/index.js";
import { train } from "../src/training/index.js";

type Json = Record<string, unknown>;

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
function corrupt(edit: (a: Json & { coefficients: unknown[][]; features: Json[]; classes: unknown[]; intercepts: unknown[] }) => void): Json {
  const a = JSON.parse(text) as Parameters<typeof edit>[0];
  edit(a);
  return a;
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

  it.each<[string, (a: Parameters<Parameters<typeof corrupt>[0]>[0]) => void, RegExp]>([
    ["wrong format", (a) => (a.format = "iris-serve.model.v0"), /m\.json: invalid model artifact: format: expected "iris-serve\.model\.v1"/],
    ["missing format", (a) => delete a.format, /format: expected/],
    ["wrong algorithm", (a) => (a.algorithm = "svm"), /algorithm: expected "multinomial-logistic-regression"/],
    ["missing version", (a) => delete a.version, /version: expected a non-empty string/],
    ["too few coefficient rows", (a) => a.coefficients.pop(), /coefficients: expected 3 entries, got 2/],
    ["a short coefficient row", (a) => a.coefficients[1]!.pop(), /coefficients\[1\]: expected 4 entries, got 3/],
    ["coefficients not an array", (a) => (a.coefficients = {} as unknown as unknown[][]), /coefficients: expected an array/],
    ["NaN written as null", (a) => (a.coefficients[0]![2] = null), /coefficients\[0\]\[2\]: expected a finite number, got null/],
    ["a string coefficient", (a) => (a.coefficients[2]![0] = "0.5"), /coefficients\[2\]\[0\]: expected a finite number, got "0\.5"/],
    ["a string intercept", (a) => (a.intercepts[1] = "x"), /intercepts\[1\]: expected a finite number/],
    ["too many intercepts", (a) => a.intercepts.push(0), /intercepts: expected 3 entries, got 4/],
    ["duplicate classes", (a) => (a.classes[2] = "setosa"), /classes\[2\]: duplicate name "setosa"/],
    ["an empty class name", (a) => (a.classes[0] = " "), /classes\[0\]: expected a non-empty string/],
    ["a single class", (a) => a.classes.splice(1), /classes: expected at least 2 classes, got 1/],
    ["duplicate features", (a) => (a.features[3]!.name = "sepal_length"), /features\[3\]: duplicate name "sepal_length"/],
    ["a feature without unit", (a) => delete a.features[0]!.unit, /features\[0\]\.unit: expected a non-empty string/],
    ["a feature statistic not finite", (a) => (a.features[1]!.std = "wide"), /features\[1\]\.std: expected a finite number/],
    ["no hyperparameters", (a) => delete a.hyperparameters, /hyperparameters: expected an object/],
    ["C missing", (a) => delete (a.hyperparameters as Json).C, /hyperparameters\.C: expected a finite number/],
    ["training not an object", (a) => (a.training = []), /training: expected an object/],
    ["metrics missing", (a) => delete a.metrics, /metrics: expected an object/],
    [
      "a tampered coefficient",
      (a) => (a.coefficients[0]![0] = (a.coefficients[0]![0] as number) + 1e-9),
      /version: "[0-9a-f]{16}" does not match the parameters .*altered or corrupted/,
    ],
    ["a renamed class", (a) => (a.classes[0] = "Setosa"), /version: .* does not match the parameters/],
    ["a tampered version", (a) => (a.version = "0000000000000000"), /version: "0000000000000000" does not match/],
  ])("rejects %s", (_name, edit, message) => {
    expect(rejection(corrupt(edit)).message).toMatch(message);
  });

  it("rejects what is not an object", () => {
    expect(rejection([]).message).toBe("m.json: invalid model artifact: $: expected a JSON object");
    expect(rejection(null).message).toMatch(/\$: expected a JSON object/);
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

    await expect(loadModelFile(dir)).rejects.toThrow(`${dir}: cannot read model file: is a directory`);
  });
});
