/**
 * HTTP benchmark (`npm run bench:http`, which builds dist/ first), side by
 * side in one run, every server its own process pinned to CPU 0 and h2load
 * on CPU 1:
 *   - one flower per call at the same concurrency: the original
 *     `POST /predict` and the Open Inference Protocol's V2 infer over HTTP/1.1,
 *     iris.v1 Predict over gRPC, and the original project's stack (Flask with
 *     scikit-learn, scripts/bench/flask-app.py) doing the same `/predict`;
 *   - bulk scoring in 10 000-row calls: V2 infer with binary tensors both
 *     ways (the binary tensor data extension) against iris.v1 BatchPredict,
 *     in rows/s.
 * Every run is checked byte for byte (see scripts/bench/lib.ts): each answer
 * must be exactly the bytes the server answered to the same request before
 * the run, which the test suite checks against the model.
 *
 *   npm run bench:http [-- --quick] [-- --json results.json]
 *
 * Aims: HTTP /predict >= 10x the Flask app; binary V2 infer of 10 000 rows
 * >= 0.5x BatchPredict's rows/s.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse } from "../src/gen/iris.js";
import { loadModelFile } from "../src/model/index.js";
import {
  benchModelPath,
  frame,
  irisRows,
  load,
  machineLine,
  median,
  requireTools,
  ROOT,
  run,
  startServer,
  stopServer,
  type LoadResult,
  type ServerProcess,
} from "./bench/lib.js";

const { values: flags } = parseArgs({
  options: { quick: { type: "boolean", default: false }, json: { type: "string" } },
});
const scale = flags.quick ? 0.2 : 1;
const ROUNDS = flags.quick ? 1 : 5;
/** One flower per call: 16 calls in flight (16 HTTP/1.1 connections; 4 gRPC connections × 4 streams). */
const SINGLE = { requests: Math.round(20_000 * scale), inFlight: 16 };
const FLASK_REQUESTS = Math.round(3_000 * scale);
const BULK = { rows: 10_000, requests: Math.round(400 * scale), inFlight: 4 };
const PYTHON = "/usr/bin/python3";

let scratch = "";
let runs = 0;

interface Case {
  name: string;
  server: ServerProcess;
  url: string;
  headers: string[];
  body: Buffer;
  /** HTTP/1.1 (one request at a time per connection) rather than HTTP/2. */
  h1: boolean;
  requests: number;
  /** The exact answer, as the server gave it once before the runs. */
  expectedBytes: number;
  rows: number;
}

async function httpCase(
  name: string,
  server: ServerProcess,
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  requests: number,
  rows: number,
): Promise<Case> {
  const url = `http://127.0.0.1:${port}${path}`;
  const response = await fetch(url, { method: "POST", headers, body });
  const answer = Buffer.from(await response.arrayBuffer());
  if (!response.ok) throw new Error(`${name}: ${response.status} ${answer.toString()}`);
  return {
    name,
    server,
    url,
    headers: Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    body,
    h1: true,
    requests,
    expectedBytes: answer.length,
    rows,
  };
}

async function measure(c: Case, inFlight: number, requests = c.requests): Promise<LoadResult> {
  const bodyFile = join(scratch, `body-${++runs}`);
  await writeFile(bodyFile, c.body);
  const [clients, streams] = c.h1 ? [inFlight, 1] : [Math.min(4, inFlight), Math.max(1, inFlight / 4)];
  const result = await load({
    server: c.server,
    url: c.url,
    headers: c.headers,
    bodyFile,
    requests,
    clients,
    streams,
    expectedBytes: c.expectedBytes,
    h1: c.h1,
    logFile: join(scratch, `h2load-${runs}.log`),
  });
  await rm(bodyFile);
  return result;
}

/** Runs every case `ROUNDS` times, interleaved, so that other load on the machine hits them alike; medians. */
async function compare(cases: Case[], inFlight: number): Promise<Map<string, LoadResult[]>> {
  const results = new Map(cases.map((c) => [c.name, [] as LoadResult[]]));
  for (const c of cases) await measure(c, inFlight, Math.max(50, Math.round(c.requests / 10))); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? cases : [...cases].reverse();
    for (const c of order) results.get(c.name)!.push(await measure(c, inFlight));
  }
  return results;
}

async function main(): Promise<void> {
  await requireTools();
  await run(PYTHON, ["-c", "import flask, sklearn"]).catch(() => {
    throw new Error(`${PYTHON} with Flask and scikit-learn is needed: apt-get install -y python3-flask python3-sklearn`);
  });
  scratch = await mkdtemp(join(tmpdir(), "iris-bench-http-"));
  const servers: ServerProcess[] = [];
  try {
    const path = await benchModelPath(scratch);
    const model = await loadModelFile(path);
    const iris = await startServer("iris", [
      process.execPath, "dist/cli/main.js", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "0",
      "--model", path, "--log-level", "info",
    ]);
    servers.push(iris);
    const flask = await startServer("flask", [PYTHON, "scripts/bench/flask-app.py", join(ROOT, "data/iris.csv")]);
    servers.push(flask);
    const grpcPort = iris.serving.port as number;
    const httpPort = iris.serving.httpPort as number;

    const [row] = await irisRows(1);
    const json = { "content-type": "application/json" };
    const predictBody = Buffer.from(JSON.stringify({ features: row }));
    const v2Body = Buffer.from(JSON.stringify({ inputs: [{ name: "input-0", shape: [1, 4], datatype: "FP64", data: row }] }));
    const flower = { sepalLength: row![0], sepalWidth: row![1], petalLength: row![2], petalWidth: row![3] };
    const p = model.predict(row!);
    const grpcPredict: Case = {
      name: "gRPC Predict",
      server: iris,
      url: `http://127.0.0.1:${grpcPort}/iris.v1.IrisService/Predict`,
      headers: ["content-type: application/grpc", "te: trailers"],
      body: frame(PredictRequest.encode({ flower }).finish()),
      h1: false,
      requests: SINGLE.requests,
      expectedBytes:
        5 +
        PredictResponse.encode({
          prediction: { species: p.label, classIndex: p.classIndex, probabilities: p.probabilities, outOfRangeFeatures: [] },
          modelVersion: model.version,
        }).finish().length,
      rows: 1,
    };
    const single = [
      await httpCase("HTTP POST /predict", iris, httpPort, "/predict", json, predictBody, SINGLE.requests, 1),
      await httpCase("HTTP V2 infer (JSON)", iris, httpPort, `/v2/models/${model.artifact.name}/infer`, json, v2Body, SINGLE.requests, 1),
      grpcPredict,
    ];
    const flaskCase = await httpCase("Flask + scikit-learn POST /predict", flask, flask.serving.port as number, "/predict", json, predictBody, FLASK_REQUESTS, 1);

    // Bulk: 10 000 rows as binary FP64 in, predict + predict_proba as binary out.
    const rows = await irisRows(BULK.rows);
    const tensor = Buffer.from(new Float64Array(rows.flat()).buffer);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: "input-0", shape: [BULK.rows, 4], datatype: "FP64", parameters: { binary_data_size: tensor.length } }],
        outputs: [{ name: "predict" }, { name: "predict_proba" }],
        parameters: { binary_data_output: true },
      }),
    );
    const binaryV2 = await httpCase(
      "HTTP V2 infer, binary tensors",
      iris,
      httpPort,
      `/v2/models/${model.artifact.name}/infer`,
      { "content-type": "application/octet-stream", "inference-header-content-length": String(header.length) },
      Buffer.concat([header, tensor]),
      BULK.requests,
      BULK.rows,
    );
    const flowers = rows.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth }));
    const predictions = rows.map((r) => model.predict(r));
    const batch: Case = {
      name: "gRPC BatchPredict",
      server: iris,
      url: `http://127.0.0.1:${grpcPort}/iris.v1.IrisService/BatchPredict`,
      headers: ["content-type: application/grpc", "te: trailers"],
      body: frame(BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish()),
      h1: false,
      requests: BULK.requests,
      expectedBytes:
        5 +
        BatchPredictResponse.encode({
          modelVersion: model.version,
          classes: [...model.classes],
          classIndices: predictions.map((q) => q.classIndex),
          probabilities: predictions.flatMap((q) => q.probabilities),
          outOfRangeMasks: [],
          outOfRangeFeatureNames: [],
        }).finish().length,
      rows: BULK.rows,
    };

    const singleResults = await compare(single, SINGLE.inFlight);
    process.stderr.write("bench: one flower per call done\n");
    const flaskResults = await compare([flaskCase], SINGLE.inFlight);
    process.stderr.write("bench: Flask done\n");
    const bulkResults = await compare([binaryV2, batch], BULK.inFlight);
    process.stderr.write("bench: bulk done\n");

    const rate = (name: string, m: Map<string, LoadResult[]>) => median(m.get(name)!.map((r) => r.reqPerSec));
    const line = (c: Case, m: Map<string, LoadResult[]>) => {
      const rs = m.get(c.name)!;
      const reqPerSec = median(rs.map((r) => r.reqPerSec));
      return `| ${c.name} | ${Math.round(reqPerSec)} | ${c.rows > 1 ? `${((reqPerSec * c.rows) / 1e6).toFixed(2)} M` : "1"} | ${median(rs.map((r) => r.p50Ms)).toFixed(2)} | ${median(rs.map((r) => r.p99Ms)).toFixed(2)} | ${median(rs.map((r) => r.cpuUsPerRequest)).toFixed(1)} |`;
    };
    const predictVsFlask = rate("HTTP POST /predict", singleResults) / rate(flaskCase.name, flaskResults);
    const v2VsBatch = rate(binaryV2.name, bulkResults) / rate(batch.name, bulkResults);
    const report = [
      await machineLine(),
      `Medians of ${ROUNDS} interleaved rounds per case.`,
      "",
      `One flower per call, ${SINGLE.inFlight} calls in flight (HTTP/1.1: ${SINGLE.inFlight} connections; gRPC: 4 connections × 4 streams):`,
      "",
      "| what | calls/s | rows/call | p50 ms | p99 ms | server CPU µs/call |",
      "|---|---|---|---|---|---|",
      ...single.map((c) => line(c, singleResults)),
      line(flaskCase, flaskResults),
      "",
      `${BULK.rows}-row calls, ${BULK.inFlight} in flight (HTTP/1.1: ${BULK.inFlight} connections; gRPC: 4 connections × 1 stream):`,
      "",
      "| what | calls/s | rows/s | p50 ms | p99 ms | server CPU µs/call |",
      "|---|---|---|---|---|---|",
      line(binaryV2, bulkResults),
      line(batch, bulkResults),
      "",
      `Aims: HTTP /predict >= 10x Flask: ${predictVsFlask >= 10 ? "met" : "NOT met"} (${predictVsFlask.toFixed(1)}x); ` +
        `binary V2 infer of ${BULK.rows} rows >= 0.5x BatchPredict: ${v2VsBatch >= 0.5 ? "met" : "NOT met"} (${v2VsBatch.toFixed(2)}x).`,
      "",
    ].join("\n");
    process.stdout.write(report);
    if (flags.json) {
      const all = Object.fromEntries([...singleResults, ...flaskResults, ...bulkResults]);
      await writeFile(flags.json, JSON.stringify({ rounds: ROUNDS, results: all }, null, 2));
    }
  } finally {
    await Promise.all(servers.map(stopServer));
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
