/**
 * BatchPredict through the wire codec on a real server: many calls in
 * flight at once, of different sizes and contents, each answered with its
 * own rows (the handlers reuse their buffers from call to call); a model
 * whose columns are in another order than the Flower fields; answers
 * without probabilities. And, with fast-check, on arbitrary batches of
 * measurements within and beyond the training range: the bytes answered
 * are those ts-proto encodes for the answer the generated path gives (the
 * model module's prediction and out-of-range mask of each row, the masks
 * and feature names only when a row is flagged), for the reference model
 * and for one whose features are in another order.
 */
import { Client, credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BatchPredictRequest, BatchPredictResponse, type Flower } from "../src/gen/iris.js";
import { FEATURES, IrisModel, modelVersion, type ModelArtifact } from "../src/model/index.js";
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

/** The reference artifact with its features (and coefficient columns) in `order` (indices into its own order). */
function reordered(a: ModelArtifact, order: number[]): IrisModel {
  const features = order.map((j) => a.features[j]!);
  const coefficients = a.coefficients.map((row) => order.map((j) => row[j]!));
  const params = { features: features.map((f) => f.name), classes: a.classes, coefficients, intercepts: a.intercepts };
  return new IrisModel({ ...a, features, coefficients, version: modelVersion(params) });
}

/**
 * BatchPredict's answer to `request` as the generated path gives it: the
 * model module's prediction and out-of-range mask for each flower (its
 * measurements put in the model's feature order by name), masks and
 * feature names only when some row is flagged.
 */
function generatedAnswer(model: IrisModel, request: BatchPredictRequest): BatchPredictResponse {
  const rows = request.flowers.map((f) => {
    const byName: Record<string, number> = Object.fromEntries(FEATURES.map((name, j) => [name, [f.sepalLength, f.sepalWidth, f.petalLength, f.petalWidth][j]!]));
    return model.featureNames.map((name) => byName[name]!);
  });
  const predictions = rows.map((r) => model.predict(r));
  const masks = rows.map((r) => model.outOfRange(r));
  const flagged = masks.some((m) => m !== 0);
  return {
    modelVersion: model.version,
    classes: [...model.classes],
    classIndices: predictions.map((p) => p.classIndex),
    probabilities: request.omitProbabilities ? [] : predictions.flatMap((p) => p.probabilities),
    outOfRangeMasks: flagged ? masks : [],
    outOfRangeFeatureNames: flagged ? [...model.featureNames] : [],
  };
}

const identity = (b: Buffer): Buffer => b;

/** The bytes `address` answers to BatchPredict `request`. */
function answerBytes(client: Client, request: BatchPredictRequest): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      "/iris.v1.IrisService/BatchPredict",
      identity,
      identity,
      Buffer.from(BatchPredictRequest.encode(request).finish()),
      new Metadata(),
      (err: ServiceError | null, bytes?: Buffer) => (err ? reject(err) : resolve(bytes!)),
    ),
  );
}

/**
 * A measurement of a feature trained on [min, max]: inside the range
 * (often), at its ends, or beyond them on either side (never negative,
 * which the server refuses).
 */
const measurementArb = (min: number, max: number): fc.Arbitrary<number> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.double({ min, max, noNaN: true }) },
    { weight: 1, arbitrary: fc.constantFrom(min, max) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: min, noNaN: true }) },
    { weight: 1, arbitrary: fc.double({ min: max, max: 1e6, noNaN: true }) },
  );

describe("BatchPredict on the wire", () => {
  it("answers any batch, within the training range or beyond it, with the bytes of the generated path's answer", async () => {
    const a = await referenceArtifact();
    const [sl, sw, pl, pw] = FEATURES.map((name) => a.features.find((f) => f.name === name)!);
    const flowerArb = (measurement: (min: number, max: number) => fc.Arbitrary<number>): fc.Arbitrary<Flower> =>
      fc.record({
        sepalLength: measurement(sl!.min, sl!.max),
        sepalWidth: measurement(sw!.min, sw!.max),
        petalLength: measurement(pl!.min, pl!.max),
        petalWidth: measurement(pw!.min, pw!.max),
      });
    const batchArb = (flower: fc.Arbitrary<Flower>) =>
      fc.record({ flowers: fc.array(flower, { minLength: 1, maxLength: 40 }), omitProbabilities: fc.boolean() });
    // Half the batches are drawn from within the training range only, so
    // both kinds are tried in every run, not by chance: a long batch of
    // mixed measurements almost always has a row out of range.
    const requestArb = fc.oneof(
      batchArb(flowerArb(measurementArb)),
      batchArb(flowerArb((min, max) => fc.oneof(fc.double({ min, max, noNaN: true }), fc.constantFrom(min, max)))),
    );
    for (const model of [new IrisModel(a), reordered(a, [3, 1, 0, 2])]) {
      const { address } = await servers.start({ model });
      const client = new Client(address, credentials.createInsecure());
      servers.defer(() => client.close());
      let flaggedBatches = 0;
      await fc.assert(
        fc.asyncProperty(requestArb, async (request) => {
          const expected = generatedAnswer(model, request);
          if (expected.outOfRangeMasks.length > 0) flaggedBatches++;
          const bytes = await answerBytes(client, request);
          expect(BatchPredictResponse.decode(bytes)).toEqual(expected);
          expect(bytes.equals(BatchPredictResponse.encode(expected).finish())).toBe(true);
        }),
        { numRuns: 60 },
      );
      // Both kinds of batch were tried: some with a row out of range, some without.
      expect(flaggedBatches).toBeGreaterThan(0);
      expect(flaggedBatches).toBeLessThan(60);
    }
  });

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
    const order = [2, 0, 3, 1];
    const shuffled = reordered(await referenceArtifact(), order);
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
