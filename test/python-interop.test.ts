/**
 * Interoperability with an independent gRPC implementation: Python's grpcio
 * (Debian packages python3-grpcio, python3-protobuf, protobuf-compiler,
 * grpc-proto) drives the server through test/support/grpc-probe.py, a small
 * grpcurl stand-in that knows nothing of iris.v1 except what server
 * reflection tells it.
 */
import { execFile } from "node:child_process";
import { access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { referenceModel } from "./support/service-fixtures.js";
import { useServer } from "./support/use-servers.js";

const PYTHON = "/usr/bin/python3";
const PROBE = fileURLToPath(new URL("support/grpc-probe.py", import.meta.url));
const APT = "apt-get install -y python3-grpcio python3-protobuf protobuf-compiler grpc-proto";

function probe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(PYTHON, [PROBE, ...args], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  // Missing tools are a failure, not a skip: CI installs them.
  await access(PYTHON).catch(() => {
    throw new Error(`${PYTHON} is missing (${APT})`);
  });
  await access("/usr/share/grpc-proto/grpc/reflection/v1/reflection.proto").catch(() => {
    throw new Error(`grpc-proto is missing (${APT})`);
  });
});
const server = useServer();

describe("a Python grpcio client using only reflection", () => {
  it("lists the services over reflection v1 and v1alpha", async () => {
    for (const flags of [[], ["--v1alpha"]]) {
      const r = await probe("list", server().address, ...flags);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("grpc.health.v1.Health\ninference.GRPCInferenceService\niris.v1.IrisService\n");
    }
  });

  it("describes the service and a message", async () => {
    const service = await probe("describe", server().address, "iris.v1.IrisService");
    expect(service.stdout).toBe(
      [
        "iris.v1.IrisService is a service:",
        "service IrisService {",
        "  rpc Predict ( .iris.v1.PredictRequest ) returns ( .iris.v1.PredictResponse );",
        "  rpc BatchPredict ( .iris.v1.BatchPredictRequest ) returns ( .iris.v1.BatchPredictResponse );",
        "  rpc ModelInfo ( .iris.v1.ModelInfoRequest ) returns ( .iris.v1.ModelInfoResponse );",
        "}",
        "",
      ].join("\n"),
    );
    const flower = await probe("describe", server().address, "iris.v1.Flower");
    expect(flower.stdout).toContain("  optional double petal_width = 4;\n");
  });

  it("calls Predict and BatchPredict from JSON and gets the model's answers", async () => {
    const model = await referenceModel();
    const r = await probe(
      "call",
      server().address,
      "iris.v1.IrisService/Predict",
      '{"flower": {"sepalLength": 7.7, "sepalWidth": 3.0, "petalLength": 6.1, "petalWidth": 2.3}}',
    );
    expect(r.code, r.stderr).toBe(0);
    const expected = model.predict([7.7, 3.0, 6.1, 2.3]);
    expect(JSON.parse(r.stdout)).toEqual({
      prediction: { species: "virginica", classIndex: 2, probabilities: expected.probabilities },
      modelVersion: model.version,
    });

    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.2, 2.9, 4.3, 1.3],
    ];
    const body = JSON.stringify({
      flowers: rows.map(([a, b, c, d]) => ({ sepal_length: a, sepal_width: b, petal_length: c, petal_width: d })),
    });
    const batch = JSON.parse((await probe("call", server().address, "iris.v1.IrisService/BatchPredict", body)).stdout);
    expect(batch).toEqual({
      modelVersion: model.version,
      classes: ["setosa", "versicolor", "virginica"],
      classIndices: [0, 1],
      probabilities: rows.flatMap((row) => model.predict(row).probabilities),
    });
  });

  it("gets INVALID_ARGUMENT with google.rpc.BadRequest details it can decode", async () => {
    const r = await probe(
      "call",
      server().address,
      "iris.v1.IrisService/BatchPredict",
      '{"flowers": [{"sepalLength": 5, "sepalWidth": 3, "petalLength": 1, "petalWidth": 0.2}, {"sepalLength": 5, "sepalWidth": 3, "petalLength": 1, "petalWidth": -1}]}',
    );
    expect(r.code).toBe(64 + 3);
    expect(r.stdout).toBe(
      [
        "ERROR:",
        "  Code: InvalidArgument",
        "  Message: flowers[1].petal_width must be >= 0 cm, got -1",
        "  Details:",
        '  1)\t{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "flowers[1].petal_width", "description": "must be >= 0 cm, got -1"}]}',
        "",
      ].join("\n"),
    );
  });

  it("resolves into a descriptor pool that already holds the standard health_pb2, without duplicate symbols", async () => {
    // Every file is served under its canonical name, so a client that skips
    // the files its pool already has (here grpc/health/v1/health.proto)
    // never adds a second copy of grpc.health.v1 under another name.
    const r = await probe("resolve-default", server().address, "grpc.health.v1.Health", "iris.v1.IrisService", "google.rpc.BadRequest");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("resolved grpc.health.v1.Health\nresolved iris.v1.IrisService\nresolved google.rpc.BadRequest\n");
    expect(r.code).toBe(0);
  });

  it("reads ModelInfo, including the load time, and the health status", async () => {
    const info = JSON.parse((await probe("call", server().address, "iris.v1.IrisService/ModelInfo", "{}")).stdout);
    expect(info).toMatchObject({
      name: "iris-logreg",
      version: server().holder.current!.model.version,
      loadedAt: server().holder.current!.loadedAt.toISOString(),
      hyperparameters: { c: 1, penalty: "l2", seed: "42" },
    });
    for (const service of ["", "iris.v1.IrisService"]) {
      const r = await probe("health", server().address, service);
      expect(JSON.parse(r.stdout)).toEqual({ status: "SERVING" });
    }
  });
});
