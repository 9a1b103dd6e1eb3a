import { describe, expect, it } from "vitest";
import { Code, IrisError } from "../src/errors.js";
import { IrisModel, modelVersion } from "../src/model/index.js";
import { ModelHolder } from "../src/server/model-holder.js";
import { flattenMetrics, serveModel } from "../src/server/served-model.js";
import { referenceArtifact } from "./support/service-fixtures.js";

describe("flattenMetrics", () => {
  it("keys numeric leaves by dotted path, array entries by class or name or index", () => {
    const metrics = {
      heldOut: {
        accuracy: 1,
        perClass: [
          { class: "setosa", f1: 0.9, support: 10 },
          { class: "versicolor", f1: 0.8, support: 10 },
        ],
        confusionMatrix: [
          [10, 0],
          [1, 9],
        ],
      },
      crossValidation: { method: "stratified-k-fold", accuracyMean: 0.93, allConverged: true, foldAccuracies: [0.9, 1] },
    };
    expect(flattenMetrics(metrics)).toEqual({
      "heldOut.accuracy": 1,
      "heldOut.perClass.setosa.f1": 0.9,
      "heldOut.perClass.setosa.support": 10,
      "heldOut.perClass.versicolor.f1": 0.8,
      "heldOut.perClass.versicolor.support": 10,
      "heldOut.confusionMatrix.0.0": 10,
      "heldOut.confusionMatrix.0.1": 0,
      "heldOut.confusionMatrix.1.0": 1,
      "heldOut.confusionMatrix.1.1": 9,
      "crossValidation.accuracyMean": 0.93,
      "crossValidation.foldAccuracies.0": 0.9,
      "crossValidation.foldAccuracies.1": 1,
    });
  });
});

describe("serveModel and ModelHolder", () => {
  it("maps Flower fields to the model's columns, whatever their order", async () => {
    const a = await referenceArtifact();
    const order = [2, 0, 3, 1];
    const features = order.map((j) => a.features[j]!);
    const coefficients = a.coefficients.map((row) => order.map((j) => row[j]!));
    const params = { features: features.map((f) => f.name), classes: a.classes, coefficients, intercepts: a.intercepts };
    const shuffled = serveModel(new IrisModel({ ...a, features, coefficients, version: modelVersion(params) }));
    // sepal_length is column 1 of this model, sepal_width 3, petal_length 0, petal_width 2.
    expect(shuffled.columns).toEqual([1, 3, 0, 2]);
  });

  it("refuses a model whose features are not the Flower fields", async () => {
    const a = await referenceArtifact();
    const features = a.features.map((f, j) => (j === 3 ? { ...f, name: "stem_length" } : f));
    const params = { features: features.map((f) => f.name), classes: a.classes, coefficients: a.coefficients, intercepts: a.intercepts };
    const model = new IrisModel({ ...a, features, version: modelVersion(params) });
    const holder = new ModelHolder(new IrisModel(a));
    const before = holder.current;
    expect(() => holder.swap(model)).toThrow(IrisError);
    expect(() => serveModel(model)).toThrow(
      "model features [sepal_length, sepal_width, petal_length, stem_length] do not match the iris.v1.Flower fields [sepal_length, sepal_width, petal_length, petal_width]",
    );
    try {
      serveModel(model);
    } catch (err) {
      expect((err as IrisError).code).toBe(Code.FAILED_PRECONDITION);
    }
    expect(holder.current).toBe(before);
  });

  it("swaps atomically and tells listeners", async () => {
    const a = await referenceArtifact();
    const holder = new ModelHolder();
    const seen: (string | undefined)[] = [];
    const off = holder.onChange((current, previous) => seen.push(`${previous?.model.artifact.name ?? "-"}→${current?.model.artifact.name ?? "-"}`));
    const first = new IrisModel(a);
    expect(holder.swap(first)).toBeUndefined();
    const second = new IrisModel({ ...a, name: "second" });
    expect(holder.swap(second)?.model).toBe(first);
    expect(holder.current!.model).toBe(second);
    off();
    holder.swap(undefined);
    expect(seen).toEqual(["-→iris-logreg", "iris-logreg→second"]);
  });
});
