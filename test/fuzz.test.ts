/**
 * Fuzzing the real server with fast-check: structured requests (any
 * numbers, missing fields, empty and oversized batches), raw bytes as gRPC
 * messages, and arbitrary JSON bodies over HTTP. Each property runs twice:
 * with a fixed seed (the same cases every run) and with a random seed that
 * the run prints, so that a failure found once can be replayed
 * (`FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts`). FUZZ_RUNS scales
 * the number of cases (the default keeps npm test quick; `npm run fuzz`
 * runs many more).
 *
 * What must hold for every case: the server answers (no crash, no hang, the
 * connection stays usable), never with UNKNOWN, only with a status the
 * contract documents for the method, and every answer that says OK equals
 * what the model module computes for the same flower.
 */
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { once } from "node:events";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import { BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse, type Flower } from "../src/gen/iris.js";
import { measurementProblem, type IrisModel } from "../src/model/index.js";
import { SETOSA } from "./support/flowers.js";
import { call, generatedClient, referenceModel } from "./support/service-fixtures.js";
import { grpcFrame, rawCall } from "./support/raw-grpc.js";
import { useServer } from "./support/use-servers.js";

const FIXED_SEED = 20261202;
const RANDOM_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const SCALE = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) / 1000 : 1;
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
const SEEDS = [
  ["fixed", FIXED_SEED],
  ["random", RANDOM_SEED],
] as const;
console.log(`fuzz: fixed seed ${FIXED_SEED}, random seed ${RANDOM_SEED} (replay with FUZZ_SEED=${RANDOM_SEED})`);

const MAX_BATCH_ROWS = 50;
const server = useServer({ httpPort: 0, maxBatchRows: MAX_BATCH_ROWS, maxReceiveBytes: 64 * 1024 });
let model: IrisModel;
let session: ClientHttp2Session;

beforeAll(async () => {
  model = await referenceModel();
  session = http2Connect(`http://127.0.0.1:${server().server.port}`);
  session.on("error", () => undefined);
  await once(session, "connect");
});
afterAll(() => session?.destroy());

/** Statuses the contract documents for iris.v1's Predict and BatchPredict. */
const DOCUMENTED = new Set<number>([Code.OK, Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED, Code.UNAVAILABLE]);

/** A measurement as a client might send it: ordinary, extreme, special, or absent. */
const measurement = fc.oneof(
  fc.double({ min: 0, max: 30, noNaN: true }),
  fc.double(),
  fc.constantFrom(0, -0, Number.MIN_VALUE, Number.MAX_VALUE, Infinity, -Infinity, NaN, 1e-300, 1e300),
  fc.constant(undefined),
);
const flower = fc.record({ sepalLength: measurement, sepalWidth: measurement, petalLength: measurement, petalWidth: measurement });

type AnyFlower = Partial<Record<keyof Flower, number | undefined>>;

function measurementsOf(f: AnyFlower): (number | undefined)[] {
  return [f.sepalLength, f.sepalWidth, f.petalLength, f.petalWidth];
}

/** The flower as a model row (only for a valid one). */
function rowOf(f: AnyFlower): number[] {
  return measurementsOf(f).map((v) => v!);
}

/** Whether the server must accept a flower: every field present (the fields are optional), finite and >= 0. */
function valid(f: AnyFlower): boolean {
  return measurementsOf(f).every((v) => measurementProblem(v) === undefined);
}

function expectPrediction(got: { classIndex: number; probabilities: number[] }, row: number[]): void {
  const want = model.predict(row);
  expect(got.classIndex).toBe(want.classIndex);
  got.probabilities.forEach((p, i) => expect(p).toBeCloseTo(want.probabilities[i]!, 12));
}

describe.each(SEEDS)("fuzz (%s seed)", (_kind, seed) => {
  it("Predict with any measurements: OK equal to the model's answer, or INVALID_ARGUMENT for an invalid one", async () => {
    await fc.assert(
      fc.asyncProperty(flower, async (f) => {
        const frame = grpcFrame(PredictRequestBytes(f));
        const answer = await rawCall(session, "/iris.v1.IrisService/Predict", frame).answer;
        expect(answer.status).not.toBe(Code.UNKNOWN);
        expect(DOCUMENTED.has(answer.status!)).toBe(true);
        if (valid(f)) {
          expect(answer.status, answer.message).toBe(Code.OK);
          const res = PredictResponse.decode(answer.body.subarray(5));
          expectPrediction(res.prediction!, rowOf(f));
        } else {
          expect(answer.status).toBe(Code.INVALID_ARGUMENT);
          expect(answer.message).toMatch(/^flower\.(sepal|petal)_(length|width)/);
        }
      }),
      { seed, numRuns: runs(800) },
    );
  });

  it("BatchPredict with any rows: OK row by row equal to the model, INVALID_ARGUMENT, or RESOURCE_EXHAUSTED past the row limit", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(flower, { maxLength: MAX_BATCH_ROWS + 10 }), fc.boolean(), async (flowers, omitProbabilities) => {
        const frame = grpcFrame(BatchPredictRequestBytes(flowers, omitProbabilities));
        const answer = await rawCall(session, "/iris.v1.IrisService/BatchPredict", frame).answer;
        expect(DOCUMENTED.has(answer.status!)).toBe(true);
        if (flowers.length > MAX_BATCH_ROWS) {
          expect(answer.status).toBe(Code.RESOURCE_EXHAUSTED);
        } else if (flowers.length === 0 || !flowers.every(valid)) {
          expect(answer.status).toBe(Code.INVALID_ARGUMENT);
        } else {
          expect(answer.status).toBe(Code.OK);
          const res = BatchPredictResponse.decode(answer.body.subarray(5));
          expect(res.classIndices).toHaveLength(flowers.length);
          flowers.forEach((f, i) => {
            const want = model.predict(rowOf(f));
            expect(res.classIndices[i]).toBe(want.classIndex);
            if (!omitProbabilities) {
              for (let k = 0; k < want.probabilities.length; k++) {
                expect(res.probabilities[i * want.probabilities.length + k]).toBeCloseTo(want.probabilities[k]!, 12);
              }
            }
          });
        }
      }),
      { seed, numRuns: runs(300) },
    );
  });

  it("raw bytes as a Predict or BatchPredict message: never UNKNOWN, never a crash", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), fc.boolean(), async (bytes, batch) => {
        const method = batch ? "BatchPredict" : "Predict";
        const answer = await rawCall(session, `/iris.v1.IrisService/${method}`, grpcFrame(bytes)).answer;
        expect(answer.status).toBeDefined();
        expect(answer.status).not.toBe(Code.UNKNOWN);
        // Bytes that are not a message of the method: INVALID_ARGUMENT (the cause logged at warn), never INTERNAL.
        expect(answer.status).not.toBe(Code.INTERNAL);
        expect(DOCUMENTED.has(answer.status!)).toBe(true);
      }),
      { seed, numRuns: runs(800) },
    );
  });

  it("any JSON body to POST /predict: 200 equal to the model, or a 4xx with an error body, never a 5xx", async () => {
    const url = `http://127.0.0.1:${server().server.httpPort}/predict`;
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record({ features: fc.array(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.jsonValue()), { maxLength: 6 }) }),
      fc.record({ instances: fc.array(fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { minLength: 4, maxLength: 4 }), { maxLength: 5 }) }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(b) });
        const text = await res.text();
        expect(res.status, text).toBeLessThan(500);
        const parsed = JSON.parse(text) as { error?: unknown };
        if (res.status >= 400) expect(typeof parsed.error).toBe("string");
      }),
      { seed, numRuns: runs(300) },
    );
  });

  it("leaves the server serving", async () => {
    const client = generatedClient(server().address);
    try {
      expect((await call(client, client.predict, { flower: SETOSA })).ok).toBe(true);
    } finally {
      client.close();
    }
  });
});

function PredictRequestBytes(f: AnyFlower): Uint8Array {
  return PredictRequest.encode({ flower: f as Flower }).finish();
}

function BatchPredictRequestBytes(flowers: AnyFlower[], omitProbabilities: boolean): Uint8Array {
  return BatchPredictRequest.encode({ flowers: flowers as Flower[], omitProbabilities }).finish();
}
