/**
 * BatchPredict through the wire codec on a real server: many calls in
 * flight at once, of different sizes and contents, each answered with its
 * own rows (the handlers reuse their buffers from call to call); a model
 * whose columns are in another order than the Flower fields; answers
 * without probabilities.
 */
import { describe, expect, it } from "vitest";
import type { Flower } from "../src/gen/iris.js";
import { IrisModel, modelVersion } from "../src/model/index.js";
import { call, irisRows, referenceArtifact, referenceModel } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();

function flowersOf(rows: number[][]): Flower[] {
  return rows.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth }));
}

/** What the model module predicts for `rows`, as BatchPredict answers it. */
function expected(model: IrisModel, rows: number[][], omitProbabilities: boolean) {
  const predictions = rows.map((r) => model.predict(r));
  return {
    classIndices: predictions.map((p) => p.classIndex),
    probabilities: omitProbabilities ? [] : predictions.flatMap((p) => p.probabilities),
  };
}

describe("BatchPredict on the wire", () => {
  it("answers 40 calls in flight at once, of different sizes and contents, each with its own rows", async () => {
    const model = await referenceModel();
    const { address } = await servers.start({ model });
    const c = servers.client(address);
    const { x } = await irisRows();
    const batches = Array.from({ length: 40 }, (_, i) => {
      const size = 1 + ((i * 37) % 600);
      const rows = Array.from({ length: size }, (_, r) => x[(i * 11 + r * 7) % x.length]!);
      return { rows, omitProbabilities: i % 3 === 0 };
    });
    const results = await Promise.all(
      batches.map((b) => call(c, c.batchPredict, { flowers: flowersOf(b.rows), omitProbabilities: b.omitProbabilities })),
    );
    results.forEach((result, i) => {
      if (!result.ok) throw result.err;
      const { classIndices, probabilities } = result.res;
      expect({ classIndices, probabilities }).toEqual(expected(model, batches[i]!.rows, batches[i]!.omitProbabilities));
      expect(result.res.modelVersion).toBe(model.version);
    });
  });

  it("feeds each measurement to its column when the model orders its features otherwise", async () => {
    const a = await referenceArtifact();
    const order = [2, 0, 3, 1];
    const features = order.map((j) => a.features[j]!);
    const coefficients = a.coefficients.map((row) => order.map((j) => row[j]!));
    const params = { features: features.map((f) => f.name), classes: a.classes, coefficients, intercepts: a.intercepts };
    const shuffled = new IrisModel({ ...a, features, coefficients, version: modelVersion(params) });
    const { address } = await servers.start({ model: shuffled });
    const c = servers.client(address);
    const { x } = await irisRows();
    const result = await call(c, c.batchPredict, { flowers: flowersOf(x), omitProbabilities: false });
    if (!result.ok) throw result.err;
    // The reference model, in Flower order, predicts the same.
    const reference = await referenceModel();
    expect(result.res.classIndices).toEqual(expected(reference, x, true).classIndices);
    const inModelOrder = x.map((r) => order.map((j) => r[j]!));
    expect(result.res.probabilities).toEqual(expected(shuffled, inModelOrder, false).probabilities);
  });
});
