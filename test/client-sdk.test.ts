/**
 * The client SDK against a real server: typed results equal to the model
 * module's, IrisErrors carrying the status code and the offending fields,
 * deadlines, aborts, TLS, and types that refuse bad calls (checked by tsc,
 * which includes test/).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, ServerCredentials } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  Code,
  createIrisClient,
  IrisError,
  type FlowerMeasurements,
  type IrisClient,
  type ModelInfo,
} from "../src/client/index.js";
import {
  irisRows,
  referenceArtifact,
  referenceModel,
  selfSignedCertificate,
  startTestServer,
} from "./support/service-fixtures.js";
import { SETOSA } from "./support/flowers.js";
import { useServers } from "./support/use-servers.js";

const servers = useServers();
const serve = servers.start;
function connect(...args: Parameters<typeof createIrisClient>): IrisClient {
  const c = createIrisClient(...args);
  servers.defer(() => c.close());
  return c;
}

async function rejection(promise: Promise<unknown>): Promise<IrisError> {
  const err = await promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IrisError);
  return err as IrisError;
}

describe("createIrisClient", () => {
  it("predicts one flower", async () => {
    const model = await referenceModel();
    const { address } = await serve({ model });
    const iris = connect(address);
    const expected = model.predict([5.1, 3.5, 1.4, 0.2]);
    expect(await iris.predict(SETOSA)).toEqual({
      species: "setosa",
      classIndex: 0,
      probabilities: expected.probabilities,
      outOfRangeFeatures: [],
      modelVersion: model.version,
    });
  });

  it("predicts a batch, one prediction per flower in order", async () => {
    const model = await referenceModel();
    const { address } = await serve({ model });
    const iris = connect(address);
    const { x } = await irisRows();
    const flowers = x.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({
      sepalLength: sepalLength!,
      sepalWidth: sepalWidth!,
      petalLength: petalLength!,
      petalWidth: petalWidth!,
    }));
    const result = await iris.batchPredict(flowers);
    expect(result.modelVersion).toBe(model.version);
    expect(result.classes).toEqual(["setosa", "versicolor", "virginica"]);
    expect(result.predictions).toEqual(
      x.map((row) => {
        const p = model.predict(row);
        return { species: p.label, classIndex: p.classIndex, probabilities: p.probabilities, outOfRangeFeatures: [] };
      }),
    );
    const lean = await iris.batchPredict(flowers.slice(0, 3), { omitProbabilities: true });
    expect(lean.predictions.map((p) => p.probabilities)).toEqual([[], [], []]);
    expect(lean.predictions.map((p) => p.species)).toEqual(result.predictions.slice(0, 3).map((p) => p.species));
  });

  it("returns the model info with dates and provenance", async () => {
    const artifact = await referenceArtifact();
    const { address, holder } = await serve();
    const info: ModelInfo = await connect(address).modelInfo();
    expect(info.version).toBe(holder.current!.model.version);
    expect(info.loadedAt).toEqual(holder.current!.loadedAt);
    expect(info.hyperparameters.c).toBe(1);
    expect(info.features.map((f) => [f.name, f.unit, f.min, f.max])).toEqual(
      artifact.features.map((f) => [f.name, f.unit, f.min, f.max]),
    );
    expect(info.training).toEqual(artifact.training);
  });

  it("rejects bad input with an IrisError carrying INVALID_ARGUMENT and the field", async () => {
    const { address } = await serve();
    const iris = connect(address);
    const err = await rejection(iris.predict({ ...SETOSA, petalWidth: -1 }));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.message).toBe("flower.petal_width must be >= 0 cm, got -1");
    expect(err.violations).toEqual([{ field: "flower.petal_width", description: "must be >= 0 cm, got -1" }]);

    const nan = await rejection(iris.batchPredict([SETOSA, { ...SETOSA, sepalLength: NaN }]));
    expect(nan.code).toBe(Code.INVALID_ARGUMENT);
    expect(nan.violations.map((v) => v.field)).toEqual(["flowers[1].sepal_length"]);

    // A value missing at run time (e.g. from untyped JSON) is not sent as 0.
    const partial = JSON.parse('{"sepalLength": 5, "sepalWidth": 3, "petalLength": 1}') as FlowerMeasurements;
    const missing = await rejection(iris.predict(partial));
    expect(missing.violations).toEqual([{ field: "flower.petal_width", description: "is required" }]);

    const empty = await rejection(iris.batchPredict([]));
    expect(empty.code).toBe(Code.INVALID_ARGUMENT);
  });

  it("applies the default deadline and a per-call one", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { address } = await serve({
      decorateService: (s) => ({ ...s, modelInfo: (call, cb) => void held.then(() => s.modelInfo(call, cb)) }),
    });
    const iris = connect(address, { deadlineMs: 200 });
    expect((await rejection(iris.modelInfo())).code).toBe(Code.DEADLINE_EXCEEDED);
    expect((await rejection(iris.modelInfo({ deadlineMs: 100 }))).code).toBe(Code.DEADLINE_EXCEEDED);
    release();
    expect((await iris.predict(SETOSA)).species).toBe("setosa");
  });

  it("cancels a call when its AbortSignal fires", async () => {
    let arrived!: () => void;
    const entered = new Promise<void>((resolve) => (arrived = resolve));
    const { address } = await serve({ decorateService: (s) => ({ ...s, modelInfo: () => arrived() }) });
    const iris = connect(address);
    const controller = new AbortController();
    const pending = rejection(iris.modelInfo({ signal: controller.signal }));
    await entered;
    controller.abort();
    expect((await pending).code).toBe(Code.CANCELLED);
    expect((await rejection(iris.predict(SETOSA, { signal: controller.signal }))).code).toBe(Code.CANCELLED);
  });

  it("reports an unreachable server as UNAVAILABLE", async () => {
    const t = await startTestServer();
    const address = t.address;
    await t.server.shutdown(1_000);
    const err = await rejection(connect(address).predict(SETOSA));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).not.toMatch(/Resolution note/);
  });

  it("speaks TLS when given credentials", async () => {
    const dir = await mkdtemp(join(tmpdir(), "iris-tls-"));
    servers.defer(() => rm(dir, { recursive: true, force: true }));
    const { cert, key } = await selfSignedCertificate(dir);
    const server = await serve({
      tls: { credentials: ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false), pem: { cert, key } },
    });
    const address = `localhost:${server.server.port}`;
    expect((await connect(address, { credentials: { tls: { rootCerts: cert } } }).predict(SETOSA)).species).toBe("setosa");
    const ready = connect(address, { credentials: credentials.createSsl(cert) });
    expect((await ready.modelInfo()).name).toBe("iris-logreg");
    // Plaintext against a TLS port fails cleanly.
    expect((await rejection(connect(address, { credentials: "insecure", deadlineMs: 5_000 }).predict(SETOSA))).code).toBe(
      Code.UNAVAILABLE,
    );
  });

  it("refuses calls after close()", async () => {
    const { address } = await serve();
    const iris = connect(address);
    await iris.predict(SETOSA);
    iris.close();
    const err = await rejection(iris.predict(SETOSA));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.message).toBe(`the client of ${address} is closed`);
  });

  it("cancels the calls in flight when closed", async () => {
    let arrived!: () => void;
    const entered = new Promise<void>((resolve) => (arrived = resolve));
    // A ModelInfo that never answers.
    const { address } = await serve({ decorateService: (s) => ({ ...s, modelInfo: () => arrived() }) });
    const iris = connect(address, { deadlineMs: 60_000 });
    const pending = rejection(iris.modelInfo());
    await entered;
    iris.close();
    const err = await pending;
    expect(err.code).toBe(Code.CANCELLED);
  });

  it("rejects a bad deadline, metadata or flower with INVALID_ARGUMENT before calling", async () => {
    const { address } = await serve();
    const iris = connect(address);
    // NaN used to reach grpc-js, which threw "Deadline is too far in the future" as an unhandled rejection.
    for (const deadlineMs of [NaN, 0, -5, 1e15]) {
      const err = await rejection(iris.predict(SETOSA, { deadlineMs }));
      expect(err.code).toBe(Code.INVALID_ARGUMENT);
      expect(err.message).toBe(`deadlineMs must be a number of milliseconds from 1 to 2147483647, or Infinity; got ${deadlineMs}`);
    }
    expect((await iris.predict(SETOSA, { deadlineMs: Infinity })).species).toBe("setosa");
    expect(() => createIrisClient(address, { deadlineMs: NaN })).toThrow(IrisError);

    const metadata = await rejection(iris.predict(SETOSA, { metadata: { "bad key": "x" } }));
    expect(metadata.code).toBe(Code.INVALID_ARGUMENT);
    expect(metadata.message).toMatch(/^metadata "bad key": /);

    const noFlower = await rejection(iris.predict(undefined as unknown as FlowerMeasurements));
    expect([noFlower.code, noFlower.message]).toEqual([Code.INVALID_ARGUMENT, "flower must be an object of four measurements, got undefined"]);
    const nullRow = await rejection(iris.batchPredict([SETOSA, null as unknown as FlowerMeasurements]));
    expect(nullRow.message).toBe("flowers[1] must be an object of four measurements, got null");
  });

  it("dials the default port 50051 for a host without a port, and refuses what is not an address", async () => {
    expect(connect("127.0.0.1").address).toBe("127.0.0.1:50051");
    expect(connect("::1").address).toBe("[::1]:50051");
    expect(connect("dns:///iris.example.com").address).toBe("dns:///iris.example.com:50051");
    expect(connect("localhost:7000").address).toBe("localhost:7000");
    const t = await serve();
    // The SDK dials what it was given when a port is there.
    expect((await connect(`127.0.0.1:${t.server.port}`).predict(SETOSA)).species).toBe("setosa");
    for (const [bad, message] of [
      ["", "must be HOST or HOST:PORT, got an empty string"],
      ["host:99999", 'must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "host:99999"'],
      ["my host", 'must be HOST or HOST:PORT with a port from 1 to 65535 ([::1] for IPv6), got "my host"'],
    ] as const) {
      let error: unknown;
      try {
        createIrisClient(bad);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(IrisError);
      expect([(error as IrisError).code, (error as IrisError).message]).toEqual([Code.INVALID_ARGUMENT, message]);
    }
  });

  it("refuses bad calls at compile time", () => {
    const iris = connect("127.0.0.1:1");
    // Each line below is a type error; the calls are never made.
    const never = (): void => {
      // @ts-expect-error a measurement is missing
      void iris.predict({ sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4 });
      // @ts-expect-error measurements are numbers, not strings
      void iris.predict({ ...SETOSA, petalWidth: "0.2" });
      // @ts-expect-error field names are camelCase
      void iris.predict({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 });
      // @ts-expect-error batchPredict takes an array of flowers
      void iris.batchPredict(SETOSA);
      // @ts-expect-error the deadline is a number of milliseconds
      void iris.modelInfo({ deadlineMs: "soon" });
      // @ts-expect-error there is no such method
      void iris.train();
      // @ts-expect-error credentials are "insecure", { tls } or grpc-js credentials
      createIrisClient("localhost:50051", { credentials: "tls" });
      // @ts-expect-error the balancing policies are pick_first and round_robin
      createIrisClient("localhost:50051", { loadBalancing: "least_request" });
    };
    expect(typeof never).toBe("function");
  });
});
