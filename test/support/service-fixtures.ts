/**
 * Shared pieces of the service tests: a model artifact built from the
 * scikit-learn reference fit (so these tests do not depend on the trainer),
 * servers on port 0 and promise-wrapped generated-client calls.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  credentials,
  loadPackageDefinition,
  makeClientConstructor,
  Metadata,
  type ChannelCredentials,
  type Client,
  type ClientDuplexStream,
  type ClientReadableStream,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { service as healthService } from "grpc-health-check";
import { ALGORITHM, ARTIFACT_FORMAT, FEATURES, IrisModel, modelVersion, type ModelArtifact } from "../../src/model/index.js";
import { IrisServiceClient } from "../../src/gen/iris.js";
import { memoryLogger } from "./memory-logger.js";
import type { LogLevel } from "../../src/config.js";
import { ModelHolder } from "../../src/server/model-holder.js";
import { startIrisServer, type IrisServer, type IrisServerOptions } from "../../src/server/server.js";

const REPO = new URL("../../", import.meta.url);

/** The 150 iris rows: measurements and species. */
export async function irisRows(): Promise<{ x: number[][]; species: string[]; sha256: string }> {
  const text = await readFile(new URL("data/iris.csv", REPO), "utf8");
  const lines = text.trim().split(/\r?\n/).slice(1);
  const x = lines.map((l) => l.split(",").slice(0, 4).map(Number));
  const species = lines.map((l) => l.split(",")[4]!.trim());
  return { x, species, sha256: createHash("sha256").update(text).digest("hex") };
}

/** A valid artifact with the reference coefficients (C = 1). */
export async function referenceArtifact(): Promise<ModelArtifact> {
  const ref = JSON.parse(await readFile(new URL("test/fixtures/sklearn-iris-logreg-C1.json", REPO), "utf8")) as {
    class_order: string[];
    coefficients: number[][];
    intercepts: number[];
  };
  const { x, sha256 } = await irisRows();
  const features = FEATURES.map((name, j) => {
    const col = x.map((r) => r[j]!);
    const mean = col.reduce((a, b) => a + b, 0) / col.length;
    const std = Math.sqrt(col.reduce((a, b) => a + (b - mean) ** 2, 0) / col.length);
    return { name, unit: "cm", min: Math.min(...col), max: Math.max(...col), mean, std };
  });
  const params = { features: [...FEATURES], classes: ref.class_order, coefficients: ref.coefficients, intercepts: ref.intercepts };
  return {
    format: ARTIFACT_FORMAT,
    name: "iris-logreg",
    version: modelVersion(params),
    algorithm: ALGORITHM,
    features,
    classes: ref.class_order,
    coefficients: ref.coefficients,
    intercepts: ref.intercepts,
    hyperparameters: { C: 1, penalty: "l2", maxIter: 1000, tol: 1e-10, testFraction: 0.2, seed: 42, folds: 5 },
    training: {
      dataset: { path: "data/iris.csv", sha256, rows: 150, classCounts: { setosa: 50, versicolor: 50, virginica: 50 } },
      trainRows: 120,
      testRows: 30,
      seed: 42,
      split: {
        method: "stratified-shuffle",
        testFraction: 0.2,
        prng: "mulberry32",
        trainClassCounts: { setosa: 40, versicolor: 40, virginica: 40 },
        testClassCounts: { setosa: 10, versicolor: 10, virginica: 10 },
      },
      optimizer: {
        method: "newton",
        linearSolver: "cholesky (ml-matrix)",
        lineSearch: "backtracking (Armijo)",
        objective: "0.5*||W||^2 + C*sum_i -log softmax(W x_i + b)[y_i]; intercepts unpenalised, centred",
        iterations: 8,
        gradientNorm: 1e-14,
        gradientNormDefinition: "max |gradient| / (C * trainRows)",
        converged: true,
        objectiveValue: 25.9,
      },
      libraries: { "iris-serve": "0.1.0", "ml-matrix": "6.15.1", "csv-parse": "7.0.3" },
    },
    metrics: {
      heldOut: {
        rows: 30,
        correct: 29,
        accuracy: 29 / 30,
        macroF1: 0.9665831244778613,
        perClass: [
          { class: "setosa", precision: 1, recall: 1, f1: 1, support: 10 },
          { class: "versicolor", precision: 1, recall: 0.9, f1: 0.9473684210526316, support: 10 },
          { class: "virginica", precision: 10 / 11, recall: 1, f1: 0.9523809523809523, support: 10 },
        ],
        confusionMatrix: [
          [10, 0, 0],
          [0, 9, 1],
          [0, 0, 10],
        ],
        logLoss: 0.12,
      },
      crossValidation: {
        method: "stratified-k-fold",
        folds: 5,
        rows: 120,
        accuracyMean: 0.9583333333333334,
        accuracyStd: 0.03726779962499651,
        std: "population (ddof=0)",
        foldAccuracies: [1, 23 / 24, 22 / 24, 1, 22 / 24],
        maxIterations: 8,
        allConverged: true,
      },
      train: { rows: 120, accuracy: 0.975, logLoss: 0.11 },
    },
  };
}

export async function referenceModel(): Promise<IrisModel> {
  return new IrisModel(await referenceArtifact());
}

/** A temp dir with model.json in it; `cleanup` removes it. */
export async function modelFile(artifact?: ModelArtifact): Promise<{ dir: string; path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "iris-service-"));
  const path = join(dir, "model.json");
  await writeFile(path, JSON.stringify(artifact ?? (await referenceArtifact()), null, 2));
  return { dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * A throw-away self-signed certificate for `localhost` and 127.0.0.1 (EC
 * P-256, made by openssl), written as `<prefix>cert.pem` and `<prefix>key.pem`
 * into `dir`.
 */
export async function selfSignedCertificate(
  dir: string,
  prefix = "",
): Promise<{ certPath: string; keyPath: string; cert: Buffer; key: Buffer }> {
  const certPath = join(dir, `${prefix}cert.pem`);
  const keyPath = join(dir, `${prefix}key.pem`);
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-keyout", keyPath, "-out", certPath,
  ]);
  const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  return { certPath, keyPath, cert, key };
}

export interface TestServer {
  server: IrisServer;
  holder: ModelHolder;
  logs: Record<string, unknown>[];
  address: string;
}

/** Server options with test defaults; `model: null` starts with no model loaded. */
export type TestServerOptions = Partial<IrisServerOptions> & { model?: IrisModel | null; logLevel?: LogLevel };

/** A real server on 127.0.0.1:0 with an in-memory log. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const { logger, lines } = memoryLogger(options.logLevel ?? "info");
  const holder = options.holder ?? new ModelHolder(options.model === null ? undefined : (options.model ?? (await referenceModel())));
  const server = await startIrisServer({
    host: "127.0.0.1",
    port: 0,
    maxBatchRows: 100_000,
    maxReceiveBytes: 8 * 1024 * 1024,
    logger,
    ...options,
    holder,
  });
  return { server, holder, logs: lines, address: `127.0.0.1:${server.port}` };
}

export function generatedClient(address: string): IrisServiceClient {
  return new IrisServiceClient(address, credentials.createInsecure());
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;

/** Calls a generated unary method and resolves with the response or the ServiceError. */
export function call<Req, Res>(
  client: Client,
  method: (req: Req, metadata: Metadata, options: { deadline: number }, cb: Callback<Res>) => unknown,
  request: Req,
  deadlineMs = 20_000,
): Promise<{ ok: true; res: Res } | { ok: false; err: ServiceError }> {
  return new Promise((resolve) => {
    method.call(client, request, new Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) =>
      resolve(err ? { ok: false, err } : { ok: true, res }),
    );
  });
}

/** A grpc.health.v1 client from grpc-health-check's own service definition. */
export interface HealthClient extends Client {
  check(req: { service: string }, cb: (err: ServiceError | null, res?: { status: string }) => void): unknown;
  watch(req: { service: string }): ClientReadableStream<{ status: string }>;
}

export function healthClient(address: string): HealthClient {
  const Ctor = makeClientConstructor(healthService as ServiceDefinition, "Health");
  return new Ctor(address, credentials.createInsecure()) as unknown as HealthClient;
}

export function healthCheck(client: HealthClient, service: string): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))),
  );
}

/** Reads a Watch stream's statuses one at a time. */
export function watchStatuses(client: HealthClient, service: string) {
  const stream = client.watch({ service });
  const queue: string[] = [];
  const waiting: ((v: string | null) => void)[] = [];
  let ended = false;
  const push = (v: string | null): void => {
    const w = waiting.shift();
    if (w) w(v);
    else if (v !== null) queue.push(v);
  };
  stream.on("data", (m: { status: string }) => push(m.status));
  stream.on("error", () => undefined);
  stream.on("end", () => {
    ended = true;
    while (waiting.length) waiting.shift()!(null);
  });
  return {
    /** The next status, or null when the stream has ended. */
    next(): Promise<string | null> {
      if (queue.length) return Promise.resolve(queue.shift()!);
      if (ended) return Promise.resolve(null);
      return new Promise((resolve) => waiting.push(resolve));
    },
    cancel: () => stream.cancel(),
  };
}

const REFLECTION_PROTO = fileURLToPath(
  new URL("node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto", REPO),
);

interface ReflectionResponse {
  listServicesResponse?: { service: { name: string }[] };
  fileDescriptorResponse?: { fileDescriptorProto: Buffer[] };
  errorResponse?: { errorCode: number; errorMessage: string };
}

/** One grpc.reflection.v1 request/response exchange, through proto-loader. */
export function reflect(address: string, request: Record<string, string>): Promise<ReflectionResponse> {
  const pkg = loadPackageDefinition(loadSync(REFLECTION_PROTO, { oneofs: true })) as unknown as {
    grpc: { reflection: { v1: { ServerReflection: new (a: string, c: ChannelCredentials) => Client } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(address, credentials.createInsecure()) as Client & {
    ServerReflectionInfo(): ClientDuplexStream<Record<string, string>, ReflectionResponse>;
  };
  return new Promise((resolve, reject) => {
    const stream = client.ServerReflectionInfo();
    stream.on("data", (res: ReflectionResponse) => {
      resolve(res);
      stream.end();
    });
    stream.on("error", reject);
    stream.on("end", () => client.close());
    stream.write(request);
  });
}
