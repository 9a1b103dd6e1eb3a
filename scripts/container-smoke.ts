/**
 * Contract smoke test against a running server (normally the container that
 * scripts/container-check.sh started), speaking only gRPC through its address.
 *
 *   node --import tsx scripts/container-smoke.ts smoke --address 127.0.0.1:PORT [--http http://127.0.0.1:PORT]
 *     Predict, BatchPredict (with and without probabilities), ModelInfo and a
 *     bad input, checked against the committed model run locally.
 *
 *   node --import tsx scripts/container-smoke.ts drain --address 127.0.0.1:PORT -- docker stop -t 10 ID
 *     Keeps several large BatchPredict calls in flight, runs the stop command
 *     (SIGTERM), and checks: health went NOT_SERVING, calls that were in flight
 *     when it did completed with correct answers, no call failed in any other
 *     way than being refused, and the stop command returned within its grace.
 *
 * Exit 0 when every check passed, 1 otherwise; one line per check.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { parse } from "csv-parse/sync";
import { protoPath as healthProtoPath } from "grpc-health-check";
import {
  IrisServiceClient,
  type BatchPredictRequest,
  type BatchPredictResponse,
  type Flower,
  type ModelInfoResponse,
  type PredictResponse,
} from "../src/gen/iris.js";
import { FEATURES, loadModelFile, type IrisModel } from "../src/model/index.js";

const CALL_DEADLINE_MS = 30_000;
const TOLERANCE = 1e-9;

class CheckFailed extends Error {}

function ok(message: string): void {
  process.stdout.write(`ok    ${message}\n`);
}

function fail(message: string): never {
  throw new CheckFailed(message);
}

/** The rows of data/iris.csv as feature vectors in the model's feature order. */
function loadRows(path: string, model: IrisModel): number[][] {
  const records = parse(readFileSync(path, "utf8"), { columns: true, skip_empty_lines: true }) as Record<
    string,
    string
  >[];
  return records.map((record) => model.featureNames.map((name) => Number(record[name])));
}

/** sepal_length → sepalLength: the generated message's field for a model feature. */
function flowerOf(model: IrisModel, row: readonly number[]): Flower {
  const flower: Record<string, number> = {};
  model.featureNames.forEach((name, j) => {
    flower[name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = row[j]!;
  });
  return flower as Flower;
}

function unary<Req, Res>(
  call: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: grpc.requestCallback<Res>) => unknown,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    call(request, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) => {
      if (error) reject(error);
      else resolve(response as Res);
    });
  });
}

function closeTo(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= TOLERANCE);
}

/** Compares a BatchPredict answer with the local model; returns a problem or undefined. */
function batchProblem(
  model: IrisModel,
  rows: readonly number[][],
  response: BatchPredictResponse,
  withProbabilities: boolean,
): string | undefined {
  if (response.modelVersion !== model.version) return `model_version ${response.modelVersion} != ${model.version}`;
  if (response.classes.join() !== model.classes.join()) return `classes [${response.classes}] != [${model.classes}]`;
  if (response.classIndices.length !== rows.length) {
    return `${response.classIndices.length} class indices for ${rows.length} rows`;
  }
  const k = model.numClasses;
  if (response.probabilities.length !== (withProbabilities ? rows.length * k : 0)) {
    return `${response.probabilities.length} probabilities for ${rows.length} rows`;
  }
  for (let i = 0; i < rows.length; i++) {
    const expected = model.predict(rows[i]!);
    if (response.classIndices[i] !== expected.classIndex) {
      return `row ${i}: class ${response.classIndices[i]}, expected ${expected.classIndex}`;
    }
    if (withProbabilities && !closeTo(response.probabilities.slice(i * k, (i + 1) * k), expected.probabilities)) {
      return `row ${i}: probabilities differ from the local model`;
    }
  }
  return undefined;
}

async function smoke(client: IrisServiceClient, model: IrisModel, rows: number[][]): Promise<void> {
  // One flower of each species (the data file is grouped by species).
  const known = model.classes.map((_, c) => rows.findIndex((row) => model.predict(row).classIndex === c));
  for (const i of known) {
    const row = rows[i]!;
    const response = await unary<{ flower: Flower }, PredictResponse>(client.predict.bind(client), {
      flower: flowerOf(model, row),
    });
    const expected = model.predict(row);
    const got = response.prediction;
    if (!got) fail(`Predict row ${i}: no prediction in the response`);
    if (got.species !== expected.label || got.classIndex !== expected.classIndex) {
      fail(`Predict [${row}]: ${got.species} (${got.classIndex}), expected ${expected.label} (${expected.classIndex})`);
    }
    if (!closeTo(got.probabilities, expected.probabilities)) fail(`Predict [${row}]: probabilities differ`);
    if (response.modelVersion !== model.version) fail(`Predict: model_version ${response.modelVersion}`);
  }
  ok(`Predict: ${known.length} known rows (${model.classes.join(", ")}) match the local model ${model.version}`);

  const flowers = rows.map((row) => flowerOf(model, row));
  for (const omitProbabilities of [false, true]) {
    const response = await unary<BatchPredictRequest, BatchPredictResponse>(client.batchPredict.bind(client), {
      flowers,
      omitProbabilities,
    });
    const problem = batchProblem(model, rows, response, !omitProbabilities);
    if (problem) fail(`BatchPredict (omit_probabilities=${omitProbabilities}): ${problem}`);
  }
  ok(`BatchPredict: all ${rows.length} rows match the local model, with and without probabilities`);

  const info = await unary<object, ModelInfoResponse>(client.modelInfo.bind(client), {});
  if (info.version !== model.version || info.classes.join() !== model.classes.join()) {
    fail(`ModelInfo: version ${info.version}, classes [${info.classes}]`);
  }
  ok(`ModelInfo: version ${info.version}, format ${info.format}, ${info.features.length} features`);

  const bad = flowerOf(model, rows[0]!);
  (bad as Record<string, number>)[Object.keys(bad)[0]!] = -1;
  try {
    await unary<{ flower: Flower }, PredictResponse>(client.predict.bind(client), { flower: bad });
    fail("Predict with a negative measurement was answered");
  } catch (err) {
    if (err instanceof CheckFailed) throw err;
    const error = err as grpc.ServiceError;
    if (error.code !== grpc.status.INVALID_ARGUMENT) fail(`bad input: ${grpc.status[error.code]} ${error.details}`);
    ok(`bad input: INVALID_ARGUMENT "${error.details}"`);
  }
}

/** The HTTP port: /v2/health/ready, POST /predict and V2 infer answer as the local model does. */
async function smokeHttp(base: string, model: IrisModel, rows: number[][]): Promise<void> {
  const ready = await fetch(`${base}/v2/health/ready`);
  if (ready.status !== 200) fail(`GET /v2/health/ready: ${ready.status} ${await ready.text()}`);
  ok("GET /v2/health/ready: 200 {\"ready\":true}");

  // One flower of each species, in FEATURES order (the order of the HTTP APIs).
  const picked = model.classes.map((_, c) => rows.find((row) => model.predict(row).classIndex === c)!);
  const features = picked.map((row) => FEATURES.map((name) => row[model.featureNames.indexOf(name)]!));
  const post = (path: string, body: unknown) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const predicted = await post("/predict", { features });
  const answer = (await predicted.json()) as { prediction: number[]; probabilities: number[][]; model_version: string };
  if (predicted.status !== 200) fail(`POST /predict: ${predicted.status} ${JSON.stringify(answer)}`);
  picked.forEach((row, i) => {
    const expected = model.predict(row);
    if (answer.prediction[i] !== expected.classIndex || !closeTo(answer.probabilities[i]!, expected.probabilities)) {
      fail(`POST /predict row ${i}: ${answer.prediction[i]}, expected ${expected.classIndex}`);
    }
  });
  if (answer.model_version !== model.version) fail(`POST /predict: model_version ${answer.model_version}`);
  ok(`POST /predict: ${features.length} rows match the local model`);

  const inferred = await post(`/v2/models/${model.artifact.name}/infer`, {
    inputs: [{ name: "input-0", shape: [features.length, 4], datatype: "FP64", data: features }],
    outputs: [{ name: "predict" }],
  });
  const v2 = (await inferred.json()) as { outputs?: { data: number[] }[] };
  const classes = picked.map((row) => model.predict(row).classIndex);
  if (inferred.status !== 200 || JSON.stringify(v2.outputs?.[0]?.data) !== JSON.stringify(classes)) {
    fail(`V2 infer: ${inferred.status} ${JSON.stringify(v2)}, expected predict ${JSON.stringify(classes)}`);
  }
  ok(`V2 infer: predict ${JSON.stringify(classes)}, as the local model`);
}

type WatchStream = grpc.ClientReadableStream<{ status: string }>;
interface HealthClient extends grpc.Client {
  Watch(request: { service: string }): WatchStream;
}

function healthClient(channel: grpc.Channel): HealthClient {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials, o: object) => HealthClient } } };
  };
  return new loaded.grpc.health.v1.Health("unused", grpc.credentials.createInsecure(), { channelOverride: channel });
}

interface CallRecord {
  startedAt: number;
  endedAt: number;
  code: grpc.status;
  details: string;
  /** Started before, and ended after, the client saw NOT_SERVING. */
  spannedShutdown: boolean;
}

async function drain(
  channel: grpc.Channel,
  client: IrisServiceClient,
  model: IrisModel,
  rows: number[][],
  options: { concurrency: number; batchRows: number; graceSeconds: number; stopCommand: string[] },
): Promise<void> {
  const batch = Array.from({ length: options.batchRows }, (_, i) => rows[i % rows.length]!);
  const request: BatchPredictRequest = {
    flowers: batch.map((row) => flowerOf(model, row)),
    omitProbabilities: false,
  };
  const health = healthClient(channel);
  let notServingAt = Infinity;
  let serving!: () => void;
  const servingSeen = new Promise<void>((resolve) => (serving = resolve));
  const watch = health.Watch({ service: "" });
  const watchEnded = new Promise<void>((resolve) => {
    watch.on("data", ({ status }: { status: string }) => {
      if (status === "SERVING") serving();
      else if (notServingAt === Infinity) {
        notServingAt = performance.now();
        // An open Watch would hold the server's drain; let it go.
        watch.cancel();
      }
    });
    watch.on("error", () => resolve());
    watch.on("end", () => resolve());
  });
  await servingSeen;

  const calls: CallRecord[] = [];
  let wrongAnswer: string | undefined;
  let firstRound!: () => void;
  let pendingFirst = options.concurrency;
  const loadRunning = new Promise<void>((resolve) => (firstRound = resolve));
  const worker = async (): Promise<void> => {
    let first = true;
    // Keep calls going until the server says it is shutting down or refuses one.
    while (notServingAt === Infinity) {
      const startedAt = performance.now();
      const record = await new Promise<CallRecord>((resolve) => {
        client.batchPredict(request, new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS }, (error, response) => {
          const endedAt = performance.now();
          if (!error) wrongAnswer ??= batchProblem(model, batch, response, true);
          resolve({
            startedAt,
            endedAt,
            code: error ? error.code : grpc.status.OK,
            details: error ? error.details : "",
            spannedShutdown: startedAt < notServingAt && endedAt > notServingAt,
          });
        });
      });
      calls.push(record);
      if (first && --pendingFirst === 0) firstRound();
      first = false;
      if (record.code !== grpc.status.OK) break;
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  await loadRunning;

  const [command, ...args] = options.stopCommand;
  const stopStarted = performance.now();
  let stopOutput = "";
  const stopExit = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(command!, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk: Buffer) => (stopOutput += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stopOutput += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve(code));
  });
  const stopSeconds = (performance.now() - stopStarted) / 1000;
  await Promise.all(workers);
  await watchEnded;

  if (wrongAnswer) fail(`drain: a BatchPredict answer was wrong: ${wrongAnswer}`);
  if (notServingAt === Infinity) fail("drain: health never reported NOT_SERVING after SIGTERM");
  ok(`drain: health reported NOT_SERVING ${((notServingAt - stopStarted) / 1000).toFixed(2)} s after the stop began`);
  const spanned = calls.filter((c) => c.spannedShutdown);
  const completed = spanned.filter((c) => c.code === grpc.status.OK);
  const refused = calls.filter((c) => c.code === grpc.status.UNAVAILABLE);
  const other = calls.filter((c) => c.code !== grpc.status.OK && c.code !== grpc.status.UNAVAILABLE);
  // A call the server refused as it closed is fine (the caller retries elsewhere);
  // one it had accepted and then dropped is not.
  const cut = spanned.filter((c) => c.code !== grpc.status.OK && /dropped|reset|RST_STREAM/i.test(c.details));
  if (other.length > 0) fail(`drain: ${other.length} call(s) failed: ${grpc.status[other[0]!.code]} ${other[0]!.details}`);
  if (cut.length > 0) fail(`drain: ${cut.length} in-flight call(s) were cut off: ${cut[0]!.details}`);
  if (completed.length === 0) fail("drain: no call was in flight when the server began shutting down");
  ok(
    `drain: ${completed.length} in-flight BatchPredict call(s) of ${options.batchRows} rows completed correctly after ` +
      `NOT_SERVING (${calls.length} calls in all, ${refused.length} refused as the server closed)`,
  );
  if (stopExit !== 0) fail(`drain: "${options.stopCommand.join(" ")}" exited with ${stopExit}: ${stopOutput.trim()}`);
  if (stopSeconds >= options.graceSeconds) {
    fail(`drain: stopping took ${stopSeconds.toFixed(1)} s, not under the ${options.graceSeconds} s grace period`);
  }
  ok(`drain: "${options.stopCommand.join(" ")}" returned in ${stopSeconds.toFixed(2)} s (< ${options.graceSeconds} s)`);
}

const USAGE =
  "usage: container-smoke.ts smoke --address HOST:PORT [--http URL] [--model FILE] [--data FILE]\n" +
  "       container-smoke.ts drain --address HOST:PORT [--concurrency N] [--batch-rows N] [--grace-seconds S] -- STOP COMMAND...\n";

async function main(argv: string[]): Promise<number> {
  const [mode, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      address: { type: "string" },
      http: { type: "string" },
      model: { type: "string", default: "artifacts/model.json" },
      data: { type: "string", default: "data/iris.csv" },
      concurrency: { type: "string", default: "4" },
      "batch-rows": { type: "string", default: "50000" },
      "grace-seconds": { type: "string", default: "10" },
    },
    allowPositionals: true,
    strict: true,
  });
  const numbers = [values.concurrency, values["batch-rows"], values["grace-seconds"]].map(Number);
  if (
    (mode !== "smoke" && mode !== "drain") ||
    !values.address ||
    numbers.some((n) => !Number.isInteger(n) || n < 1) ||
    (mode === "drain") !== positionals.length > 0
  ) {
    process.stderr.write(USAGE);
    return 2;
  }
  const model = await loadModelFile(values.model);
  const rows = loadRows(values.data, model);
  // One channel (one HTTP/2 connection) for every client, as a real caller has.
  const channel = new grpc.Channel(values.address, grpc.credentials.createInsecure(), {});
  const client = new IrisServiceClient(values.address, grpc.credentials.createInsecure(), { channelOverride: channel });
  try {
    if (mode === "smoke") {
      await smoke(client, model, rows);
      if (values.http !== undefined) await smokeHttp(values.http, model, rows);
    }
    else {
      const [concurrency, batchRows, graceSeconds] = numbers as [number, number, number];
      await drain(channel, client, model, rows, { concurrency, batchRows, graceSeconds, stopCommand: positionals });
    }
    return 0;
  } catch (err) {
    const message = err instanceof CheckFailed ? err.message : `${mode}: ${(err as Error).message}`;
    process.stdout.write(`FAIL  ${message}\n`);
    return 1;
  } finally {
    client.close();
    channel.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
