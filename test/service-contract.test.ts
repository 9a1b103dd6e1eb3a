/**
 * Contract tests of iris.v1.IrisService, health and reflection: a real
 * grpc-js server in this process on 127.0.0.1:0, called through the
 * generated client over a real connection.
 */
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { sendUnaryData, ServerUnaryCall, ServiceError } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { Code } from "../src/errors.js";
import {
  BatchPredictRequest,
  IrisServiceClient,
  ModelInfoResponse,
  type IrisServiceServer,
  type PredictRequest,
  type PredictResponse,
} from "../src/gen/iris.js";
import { IrisModel } from "../src/model/index.js";
import { decodeRpcStatus, STATUS_DETAILS_KEY } from "../src/rpc/status-details.js";
import { MAX_REPORTED_VIOLATIONS } from "../src/server/validate.js";
import { SETOSA } from "./support/flowers.js";
import { call, healthCheck, irisRows, referenceArtifact, referenceModel, reflect, watchStatuses } from "./support/service-fixtures.js";
import { useServers } from "./support/use-servers.js";

const FIELDS = [
  ["sepalLength", "sepal_length"],
  ["sepalWidth", "sepal_width"],
  ["petalLength", "petal_length"],
  ["petalWidth", "petal_width"],
] as const;

const servers = useServers();
const serve = servers.start;
const client = servers.client;
const health = servers.health;

async function predict(c: IrisServiceClient, request: PredictRequest, deadlineMs?: number) {
  return call(c, c.predict, request, deadlineMs);
}

/** Fails unless the call failed with `code`; returns the error and its BadRequest fields. */
function expectStatus(result: { ok: true } | { ok: false; err: ServiceError }, code: Code) {
  if (result.ok) throw new Error(`expected status ${code}, the call succeeded`);
  expect(result.err.code, result.err.details).toBe(code);
  const bin = result.err.metadata.get(STATUS_DETAILS_KEY)[0];
  const violations = bin instanceof Buffer ? decodeRpcStatus(bin).violations : [];
  return { err: result.err, violations };
}

/** Holds Predict calls until released; each held call is reported when it arrives. */
function holdPredict() {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrived!: (call: ServerUnaryCall<PredictRequest, PredictResponse>) => void;
  const entered = new Promise<ServerUnaryCall<PredictRequest, PredictResponse>>((resolve) => (arrived = resolve));
  const decorateService = (service: IrisServiceServer): IrisServiceServer => ({
    ...service,
    predict(c: ServerUnaryCall<PredictRequest, PredictResponse>, cb: sendUnaryData<PredictResponse>) {
      arrived(c);
      void released.then(() => service.predict(c, cb));
    },
  });
  return { decorateService, entered, release };
}

/** A model that counts how often it is asked to predict. */
class CountingModel extends IrisModel {
  predictions = 0;
  override predictInto(row: ArrayLike<number>, out: Float64Array, offset = 0): number {
    this.predictions++;
    return super.predictInto(row, out, offset);
  }
}

describe("Predict", () => {
  it("answers every iris row exactly as the model module does", async () => {
    const model = await referenceModel();
    const { address } = await serve({ model });
    const c = client(address);
    const { x, species } = await irisRows();
    let correct = 0;
    for (const row of x) {
      const [sepalLength, sepalWidth, petalLength, petalWidth] = row;
      const result = await predict(c, { flower: { sepalLength, sepalWidth, petalLength, petalWidth } });
      if (!result.ok) throw result.err;
      const expected = model.predict(row);
      expect(result.res).toEqual({
        prediction: {
          species: expected.label,
          classIndex: expected.classIndex,
          probabilities: expected.probabilities,
          // The reference model's ranges are those of these very rows.
          outOfRangeFeatures: [],
        },
        modelVersion: model.version,
      });
      if (result.res.prediction!.species === species[x.indexOf(row)]) correct++;
    }
    // The reference fit gets 146 of the 150 training rows right.
    expect(correct).toBe(146);
  });

  it("rejects a request without a flower", async () => {
    const { address } = await serve();
    const { err, violations } = expectStatus(await predict(client(address), { flower: undefined }), Code.INVALID_ARGUMENT);
    expect(err.details).toBe("flower is required");
    expect(violations).toEqual([{ field: "flower", description: "is required" }]);
  });

  const bad: [string, number | undefined, string][] = [
    ["missing", undefined, "is required"],
    ["NaN", NaN, "must be a number, got NaN"],
    ["+Infinity", Infinity, "must be finite, got Infinity"],
    ["-Infinity", -Infinity, "must be finite, got -Infinity"],
    ["negative", -0.5, "must be >= 0 cm, got -0.5"],
  ];
  for (const [key, name] of FIELDS) {
    it.each(bad)(`rejects a %s ${name} with INVALID_ARGUMENT naming flower.${name}`, async (_label, value, description) => {
      const model = new CountingModel(await referenceArtifact());
      const { address } = await serve({ model });
      const flower = { ...SETOSA, [key]: value };
      const { err, violations } = expectStatus(await predict(client(address), { flower }), Code.INVALID_ARGUMENT);
      expect(err.details).toBe(`flower.${name} ${description}`);
      expect(violations).toEqual([{ field: `flower.${name}`, description }]);
      expect(model.predictions).toBe(0);
    });
  }

  it("lists every bad field of a flower", async () => {
    const { address } = await serve();
    const { err, violations } = expectStatus(
      await predict(client(address), { flower: { sepalLength: -1, petalLength: NaN } }),
      Code.INVALID_ARGUMENT,
    );
    expect(err.details).toBe("flower.sepal_length must be >= 0 cm, got -1 (and 3 more invalid fields)");
    expect(violations.map((v) => v.field)).toEqual([
      "flower.sepal_length",
      "flower.sepal_width",
      "flower.petal_length",
      "flower.petal_width",
    ]);
  });

  it("is UNAVAILABLE while no model is loaded, and answers once one is swapped in", async () => {
    const { address, holder } = await serve({ model: null });
    const c = client(address);
    const { err } = expectStatus(await predict(c, { flower: SETOSA }), Code.UNAVAILABLE);
    expect(err.details).toMatch(/no model is loaded/);
    const model = await referenceModel();
    holder.swap(model);
    const result = await predict(c, { flower: SETOSA });
    expect(result.ok && result.res.modelVersion).toBe(model.version);
  });

  it("turns an unexpected failure into INTERNAL with a generic message and logs the cause", async () => {
    class BrokenModel extends IrisModel {
      override predictInto(): number {
        throw new Error("secret detail of the failure");
      }
    }
    const { address, logs } = await serve({ model: new BrokenModel(await referenceArtifact()) });
    const { err } = expectStatus(await predict(client(address), { flower: SETOSA }), Code.INTERNAL);
    expect(err.details).toBe("internal error");
    const line = logs.find((l) => l.msg === "internal error");
    expect(line).toMatchObject({ level: "error", method: "Predict", err: { message: "secret detail of the failure" } });
  });

  it("gives DEADLINE_EXCEEDED when the deadline passes, and does no work for the dead call", async () => {
    const model = new CountingModel(await referenceArtifact());
    const hold = holdPredict();
    const { address } = await serve({ model, decorateService: hold.decorateService });
    const pending = predict(client(address), { flower: SETOSA }, 300);
    const serverCall = await hold.entered;
    const cancelled = new Promise<void>((resolve) => serverCall.on("cancelled", () => resolve()));
    expectStatus(await pending, Code.DEADLINE_EXCEEDED);
    await cancelled;
    expect(serverCall.cancelled).toBe(true);
    hold.release();
    // The handler runs after release; a follow-up call on the same
    // connection is answered after it, so its work is done by then.
    const after = await predict(client(address), { flower: SETOSA });
    expect(after.ok).toBe(true);
    expect(model.predictions).toBe(1);
  });
});

describe("BatchPredict", () => {
  async function batch(c: IrisServiceClient, request: Partial<BatchPredictRequest>) {
    return call(c, c.batchPredict, { flowers: [], omitProbabilities: false, ...request });
  }
  const toFlower = ([sepalLength, sepalWidth, petalLength, petalWidth]: number[]) => ({
    sepalLength,
    sepalWidth,
    petalLength,
    petalWidth,
  });

  it("answers all 150 rows in order, exactly as the model module does", async () => {
    const model = await referenceModel();
    const { address } = await serve({ model });
    const { x } = await irisRows();
    const result = await batch(client(address), { flowers: x.map(toFlower) });
    if (!result.ok) throw result.err;
    const expected = x.map((row) => model.predict(row));
    expect(result.res.modelVersion).toBe(model.version);
    expect(result.res.classes).toEqual(["setosa", "versicolor", "virginica"]);
    expect(result.res.classIndices).toEqual(expected.map((p) => p.classIndex));
    expect(result.res.probabilities).toEqual(expected.flatMap((p) => p.probabilities));
  });

  it("omits the probabilities when asked, with the same classes", async () => {
    const model = await referenceModel();
    const { address } = await serve({ model });
    const { x } = await irisRows();
    const result = await batch(client(address), { flowers: x.map(toFlower), omitProbabilities: true });
    if (!result.ok) throw result.err;
    expect(result.res.probabilities).toEqual([]);
    expect(result.res.classIndices).toEqual(x.map((row) => model.predict(row).classIndex));
  });

  it("names the row and field of a bad measurement", async () => {
    const { address } = await serve();
    const flowers = [SETOSA, SETOSA, SETOSA, { ...SETOSA, petalWidth: -2 }, SETOSA];
    const { err, violations } = expectStatus(await batch(client(address), { flowers }), Code.INVALID_ARGUMENT);
    expect(err.details).toBe("flowers[3].petal_width must be >= 0 cm, got -2");
    expect(violations).toEqual([{ field: "flowers[3].petal_width", description: "must be >= 0 cm, got -2" }]);
  });

  it.each([
    ["missing", undefined, "is required"],
    ["NaN", NaN, "must be a number, got NaN"],
    ["infinite", Infinity, "must be finite, got Infinity"],
  ])("rejects a %s measurement in row 1", async (_label, value, description) => {
    const { address } = await serve();
    const flowers = [SETOSA, { ...SETOSA, sepalWidth: value }];
    const { err } = expectStatus(await batch(client(address), { flowers }), Code.INVALID_ARGUMENT);
    expect(err.details).toBe(`flowers[1].sepal_width ${description}`);
  });

  it(`lists at most ${MAX_REPORTED_VIOLATIONS} bad fields and says there were more`, async () => {
    const { address } = await serve();
    const flowers = Array.from({ length: 50 }, () => ({ ...SETOSA, sepalLength: -1 }));
    const { err, violations } = expectStatus(await batch(client(address), { flowers }), Code.INVALID_ARGUMENT);
    expect(violations).toHaveLength(MAX_REPORTED_VIOLATIONS);
    expect(violations[19]!.field).toBe("flowers[19].sepal_length");
    expect(err.details).toBe(`flowers[0].sepal_length must be >= 0 cm, got -1 (and ${MAX_REPORTED_VIOLATIONS - 1}+ more invalid fields)`);
  });

  it("rejects an empty batch with INVALID_ARGUMENT", async () => {
    const { address } = await serve();
    const { err, violations } = expectStatus(await batch(client(address), { flowers: [] }), Code.INVALID_ARGUMENT);
    expect(err.details).toBe("flowers is empty; send at least one flower");
    expect(violations).toEqual([{ field: "flowers", description: "must contain at least one flower" }]);
  });

  it("rejects a batch over the row limit with RESOURCE_EXHAUSTED stating the limit", async () => {
    const { address } = await serve({ maxBatchRows: 10 });
    const c = client(address);
    const ok = await batch(c, { flowers: Array(10).fill(SETOSA) });
    expect(ok.ok).toBe(true);
    const { err } = expectStatus(await batch(c, { flowers: Array(11).fill(SETOSA) }), Code.RESOURCE_EXHAUSTED);
    expect(err.details).toBe("batch of 11 flowers exceeds the limit of 10 rows per call; split it into smaller batches");
  });

  it("rejects a message over the receive limit with RESOURCE_EXHAUSTED, and keeps serving", async () => {
    const { address } = await serve({ maxReceiveBytes: 1024 });
    const c = client(address);
    const flowers = Array(100).fill(SETOSA);
    expect(BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish().length).toBeGreaterThan(1024);
    const { err } = expectStatus(await batch(c, { flowers }), Code.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/larger than max/);
    expect((await predict(c, { flower: SETOSA })).ok).toBe(true);
  });

  it("answers a whole batch from one model even when the model is swapped", async () => {
    const model = await referenceModel();
    const { address, holder } = await serve({ model });
    const c = client(address);
    const artifact = await referenceArtifact();
    const other = new IrisModel({ ...artifact, name: "renamed" });
    holder.swap(other);
    const result = await batch(c, { flowers: [SETOSA, SETOSA] });
    expect(result.ok && result.res.modelVersion).toBe(other.version);
  });
});

describe("logging", () => {
  it("logs one debug line per call at debug level, and nothing per call at info", async () => {
    const verbose = await serve({ logLevel: "debug" });
    const quiet = await serve({ logLevel: "info" });
    for (const t of [verbose, quiet]) {
      const c = client(t.address);
      await predict(c, { flower: SETOSA });
      await predict(c, { flower: { ...SETOSA, petalWidth: -1 } });
    }
    expect(verbose.logs.filter((l) => l.msg === "call")).toMatchObject([
      { level: "debug", method: "Predict", code: Code.OK, modelVersion: verbose.holder.current!.model.version },
      { level: "debug", method: "Predict", code: Code.INVALID_ARGUMENT, details: "flower.petal_width must be >= 0 cm, got -1" },
    ]);
    expect(quiet.logs).toEqual([]);
  });

  it("logs the cause of an answer that cannot be serialized, and sends only INTERNAL", async () => {
    const t = await serve({
      decorateService: (service) => ({
        ...service,
        // An int64 that is not a number: ts-proto's encoder throws inside grpc-js.
        modelInfo: (call, cb) =>
          service.modelInfo(call, (err, res) =>
            cb(err, { ...res!, hyperparameters: { ...res!.hyperparameters!, seed: "not a number" as unknown as number } }),
          ),
      }),
    });
    const c = client(t.address);
    const { err } = expectStatus(await call(c, c.modelInfo, {}), Code.INTERNAL);
    expect(err.details).toBe("Error serializing response");
    expect(t.logs).toMatchObject([
      { level: "error", method: "/iris.v1.IrisService/ModelInfo", msg: "internal error: the response could not be serialized" },
    ]);
    expect(JSON.stringify(t.logs[0]!.err)).toMatch(/not a number/);
  });

  it("answers a request that cannot be parsed with INVALID_ARGUMENT naming the problem, and logs it with its size", async () => {
    const t = await serve();
    const c = client(t.address);
    // Field 1 (flower) as a length-delimited value that claims 100 bytes and carries 2.
    const malformed = Buffer.from([0x0a, 0x64, 0x01, 0x02]);
    const result = await new Promise<ServiceError | null>((resolve) =>
      c.makeUnaryRequest(
        "/iris.v1.IrisService/Predict",
        (b: Buffer) => b,
        (b: Buffer) => b,
        malformed,
        (err) => resolve(err),
      ),
    );
    const problem = "a length-delimited field of 100 bytes with only 2 left at byte 1";
    expect([result?.code, result?.details]).toEqual([
      Code.INVALID_ARGUMENT,
      `malformed request message for /iris.v1.IrisService/Predict: ${problem}`,
    ]);
    expect(t.logs).toMatchObject([{ level: "warn", method: "/iris.v1.IrisService/Predict", bytes: 4, problem, msg: "malformed request message" }]);
  });
});

describe("ModelInfo", () => {
  it("describes the served model", async () => {
    const artifact = await referenceArtifact();
    const model = new IrisModel(artifact);
    const { address, holder } = await serve({ model });
    const c = client(address);
    const result = await call(c, c.modelInfo, {});
    if (!result.ok) throw result.err;
    const info = result.res;
    const { sha256 } = await irisRows();
    expect(info).toEqual({
      name: "iris-logreg",
      version: model.version,
      format: "iris-serve.model.v1",
      algorithm: "multinomial-logistic-regression",
      features: artifact.features,
      classes: ["setosa", "versicolor", "virginica"],
      hyperparameters: { c: 1, penalty: "l2", maxIter: 1000, tol: 1e-10, testFraction: 0.2, seed: 42, folds: 5 },
      metrics: expect.objectContaining({ "heldOut.accuracy": 29 / 30, "heldOut.logLoss": 0.12, "crossValidation.accuracyMean": 0.9583333333333334 }),
      datasetChecksum: sha256,
      loadedAt: holder.current!.loadedAt,
      training: artifact.training,
    } satisfies ModelInfoResponse);
  });
});

describe("health", () => {
  it("is NOT_SERVING before a model is loaded, SERVING after, NOT_SERVING from the start of shutdown", async () => {
    const t = await serve({ model: null });
    const h = health(t.address);
    expect(await healthCheck(h, "")).toBe("NOT_SERVING");
    expect(await healthCheck(h, "iris.v1.IrisService")).toBe("NOT_SERVING");
    await expect(healthCheck(h, "no.such.Service")).rejects.toMatchObject({ code: Code.NOT_FOUND });

    const watchAll = watchStatuses(h, "");
    const watchIris = watchStatuses(h, "iris.v1.IrisService");
    expect(await watchAll.next()).toBe("NOT_SERVING");
    expect(await watchIris.next()).toBe("NOT_SERVING");

    t.holder.swap(await referenceModel());
    expect(await watchAll.next()).toBe("SERVING");
    expect(await watchIris.next()).toBe("SERVING");
    expect(await healthCheck(h, "iris.v1.IrisService")).toBe("SERVING");

    const stopped = t.server.shutdown(5_000);
    expect(await watchAll.next()).toBe("NOT_SERVING");
    expect(await watchIris.next()).toBe("NOT_SERVING");
    // The watch streams are ended so they do not hold the shutdown up.
    expect(await watchAll.next()).toBeNull();
    expect(await watchIris.next()).toBeNull();
    expect(await stopped).toEqual({ forced: false });
  });
});

describe("reflection", () => {
  it("lists the services", async () => {
    const { address } = await serve();
    const res = await reflect(address, { listServices: "*" });
    expect(res.listServicesResponse!.service.map((s) => s.name).sort()).toEqual([
      "grpc.health.v1.Health",
      "inference.GRPCInferenceService",
      "iris.v1.IrisService",
    ]);
  });

  it("resolves the service to iris.proto with its imports, field names and comments", async () => {
    const { address } = await serve();
    const res = await reflect(address, { fileContainingSymbol: "iris.v1.IrisService" });
    const files = res.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(files.map((f) => f.name).sort()).toEqual([
      "google/protobuf/struct.proto",
      "google/protobuf/timestamp.proto",
      "iris.proto",
    ]);
    const iris = files.find((f) => f.name === "iris.proto")!;
    expect(iris.package).toBe("iris.v1");
    expect(iris.dependency).toEqual(["google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]);
    expect(iris.service[0]!.method.map((m) => m.name)).toEqual(["Predict", "BatchPredict", "ModelInfo"]);
    const flower = iris.messageType.find((m) => m.name === "Flower")!;
    expect(flower.field.map((f) => [f.name, f.proto3Optional])).toEqual([
      ["sepal_length", true],
      ["sepal_width", true],
      ["petal_length", true],
      ["petal_width", true],
    ]);
    const comments = iris.sourceCodeInfo!.location.map((l) => l.leadingComments).join("\n");
    expect(comments).toContain("Classifies Iris flowers");
  });

  it("resolves the health service under its canonical file name and reports unknown symbols", async () => {
    const { address } = await serve();
    const res = await reflect(address, { fileContainingSymbol: "grpc.health.v1.Health" });
    const [file] = res.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(file!.name).toBe("grpc/health/v1/health.proto");
    expect(file!.service[0]!.name).toBe("Health");
    expect(file!.service[0]!.method.map((m) => m.name)).toEqual(["Check", "Watch", "List"]);
    const missing = await reflect(address, { fileContainingSymbol: "iris.v1.Nothing" });
    expect(missing.errorResponse!.errorCode).toBe(Code.NOT_FOUND);
  });

  it("describes google.rpc.BadRequest, the error detail the server sends", async () => {
    const { address } = await serve();
    const res = await reflect(address, { fileContainingSymbol: "google.rpc.BadRequest" });
    const files = res.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const details = files.find((f) => f.name === "google/rpc/error_details.proto")!;
    const badRequest = details.messageType.find((m) => m.name === "BadRequest")!;
    expect(badRequest.field.map((f) => f.name)).toEqual(["field_violations"]);
    expect(badRequest.nestedType[0]!.field.map((f) => f.name).slice(0, 2)).toEqual(["field", "description"]);
    const status = await reflect(address, { fileByFilename: "google/rpc/status.proto" });
    const [statusFile] = status.fileDescriptorResponse!.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
    expect(statusFile!.messageType.map((m) => m.name)).toEqual(["Status"]);
  });
});

describe("shutdown", () => {
  it("lets a call in flight finish while refusing new ones", async () => {
    const model = await referenceModel();
    const hold = holdPredict();
    const t = await serve({ model, decorateService: hold.decorateService });
    const pending = predict(client(t.address), { flower: SETOSA });
    await hold.entered;

    const stopped = t.server.shutdown(10_000);
    expect(t.server.health.status).toBe("NOT_SERVING");
    // The listener is closed: a new connection is refused.
    expectStatus(await predict(client(t.address), { flower: SETOSA }), Code.UNAVAILABLE);

    hold.release();
    const result = await pending;
    if (!result.ok) throw result.err;
    expect(result.res.prediction!.species).toBe(model.predict([5.1, 3.5, 1.4, 0.2]).label);
    expect(await stopped).toEqual({ forced: false });
  });

  it("cuts off calls still running when the grace period ends", async () => {
    const hold = holdPredict();
    const t = await serve({ decorateService: hold.decorateService });
    const pending = predict(client(t.address), { flower: SETOSA });
    await hold.entered;
    expect(await t.server.shutdown(50)).toEqual({ forced: true });
    const result = await pending;
    expect(result.ok).toBe(false);
    hold.release();
  });
});
