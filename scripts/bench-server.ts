/**
 * Server benchmark (`npm run bench:server`, which builds dist/ first).
 *
 * Runs the compiled server (`node dist/cli/main.js serve`) and, as the
 * ceiling, a bare grpc-js server (scripts/bench-noop-server.ts): its Predict
 * answers an empty message, its BatchPredict a pre-encoded reply, the bytes
 * the real server answered to the same request, without decoding anything.
 * Each is its own process on 127.0.0.1:0. The load comes from h2load
 * (apt-get install nghttp2-client), a separate process speaking gRPC over
 * HTTP/2. Measures, in back-to-back iris/no-op pairs in alternating order
 * (so that other load on the machine hits both alike; medians of the pairs'
 * ratios):
 *   - Predict requests/s and p50/p99 latency at 1, 16 and 128 calls in
 *     flight, plus the server CPU time per call from /proc;
 *   - BatchPredict rows/s with 1 000- and 10 000-row batches.
 * With taskset available, the servers run on CPU 0 and h2load on CPU 1.
 *
 * Every h2load run is checked byte for byte (see scripts/bench/lib.ts), and
 * the real server's batch answers are checked against the model first.
 *
 *   npm run bench:server [-- --quick] [-- --json results.json]
 *
 * --quick runs one pair of a fifth of the requests (a smoke run; noisy).
 *
 * The model is IRIS_MODEL, else artifacts/model.json; when neither exists, a
 * model is trained into a temporary directory first.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BatchPredictRequest, BatchPredictResponse, PredictRequest, PredictResponse, type Flower } from "../src/gen/iris.js";
import { loadModelFile, type IrisModel } from "../src/model/index.js";
import {
  benchModelPath,
  frame,
  grpcAnswer,
  irisRows,
  load as h2load,
  machineLine,
  median,
  requireTools,
  startServer,
  stopServer,
  type LoadResult,
  type ServerProcess,
} from "./bench/lib.js";

const { values: flags } = parseArgs({
  options: { quick: { type: "boolean", default: false }, json: { type: "string" } },
});
const scale = flags.quick ? 0.2 : 1;
/** Alternating iris/no-op pairs per Predict level and per batch size. */
const PAIRS = flags.quick ? 1 : 7;
const BATCH_PAIRS = flags.quick ? 1 : 5;

/** Predict concurrency levels: h2load clients (connections) × streams per client. */
const PREDICT_LEVELS = [
  { clients: 1, streams: 1 },
  { clients: 4, streams: 4 },
  { clients: 8, streams: 16 },
];
const PREDICT_REQUESTS = Math.round(30_000 * scale);
const BATCHES = [
  { rows: 1_000, requests: Math.round(4_000 * scale), clients: 2, streams: 2 },
  { rows: 10_000, requests: Math.round(600 * scale), clients: 2, streams: 2 },
];
/** The aims: Predict at least this share of the no-op server's calls/s at every level; BatchPredict this share of the ceiling's rows/s. */
const PREDICT_AIM = 0.95;
const BATCH_AIM = 0.7;

let runs = 0;
let scratch = "";

/** One gRPC h2load run against `method` of iris.v1.IrisService. */
function load(
  server: ServerProcess,
  method: string,
  bodyFile: string,
  requests: number,
  clients: number,
  streams: number,
  expectedBytes: number,
): Promise<LoadResult> {
  const port = server.serving.port as number;
  return h2load({
    server,
    url: `http://127.0.0.1:${port}/iris.v1.IrisService/${method}`,
    headers: ["content-type: application/grpc", "te: trailers"],
    bodyFile,
    requests,
    clients,
    streams,
    expectedBytes,
    logFile: join(scratch, `h2load-${++runs}.log`),
  });
}

function flowersOf(rows: number[][]): Flower[] {
  return rows.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth }));
}

/**
 * The real server's answer to `flowers`, checked against the model (every
 * class index and probability exactly as the model module computes them).
 */
async function batchAnswer(port: number, model: IrisModel, flowers: Flower[]): Promise<Buffer> {
  const answer = await grpcAnswer(port, "/iris.v1.IrisService/BatchPredict", BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish());
  const decoded = BatchPredictResponse.decode(answer);
  const predictions = flowers.map((f) => model.predict([f.sepalLength!, f.sepalWidth!, f.petalLength!, f.petalWidth!]));
  const same =
    decoded.modelVersion === model.version &&
    decoded.classIndices.length === flowers.length &&
    predictions.every((p, i) => decoded.classIndices[i] === p.classIndex) &&
    predictions.flatMap((p) => p.probabilities).every((v, i) => Object.is(decoded.probabilities[i], v));
  if (!same) throw new Error(`the server's answer to ${flowers.length} flowers is not the model's`);
  return answer;
}

/** Runs `measure` for iris and no-op in back-to-back pairs (alternating which goes first). */
async function pairs(
  count: number,
  measure: (which: "iris" | "noop") => Promise<LoadResult>,
): Promise<{ iris: LoadResult[]; noop: LoadResult[]; ratios: number[] }> {
  const out: { iris: LoadResult[]; noop: LoadResult[]; ratios: number[] } = { iris: [], noop: [], ratios: [] };
  for (let pair = 0; pair < count; pair++) {
    const order = pair % 2 === 0 ? (["noop", "iris"] as const) : (["iris", "noop"] as const);
    const result: Partial<Record<"iris" | "noop", LoadResult>> = {};
    for (const which of order) result[which] = await measure(which);
    out.iris.push(result.iris!);
    out.noop.push(result.noop!);
    out.ratios.push(result.iris!.reqPerSec / result.noop!.reqPerSec);
  }
  return out;
}

async function main(): Promise<void> {
  await requireTools();
  scratch = await mkdtemp(join(tmpdir(), "iris-bench-"));
  const servers: ServerProcess[] = [];
  try {
    const path = await benchModelPath(scratch);
    const model = await loadModelFile(path);

    const iris = await startServer("iris", [
      process.execPath, "dist/cli/main.js", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", path, "--log-level", "info",
    ]);
    servers.push(iris);
    const irisPort = iris.serving.port as number;

    // Request bodies, and each correct answer (checked against the model).
    const [one] = flowersOf(await irisRows(1));
    const predictRequest = PredictRequest.encode({ flower: one }).finish();
    const predictBody = join(scratch, "predict.bin");
    await writeFile(predictBody, frame(predictRequest));
    const p = model.predict([one!.sepalLength!, one!.sepalWidth!, one!.petalLength!, one!.petalWidth!]);
    const predicted = PredictResponse.decode(await grpcAnswer(irisPort, "/iris.v1.IrisService/Predict", predictRequest));
    if (predicted.prediction?.classIndex !== p.classIndex || !p.probabilities.every((v, i) => Object.is(predicted.prediction!.probabilities[i], v))) {
      throw new Error("the server's Predict answer is not the model's");
    }
    const predictAnswer = 5 + PredictResponse.encode(predicted).finish().length;
    const noopAnswer = 5 + PredictResponse.encode(PredictResponse.fromPartial({})).finish().length;
    const batches = [];
    const replyFlags: string[] = [];
    for (const b of BATCHES) {
      const flowers = flowersOf(await irisRows(b.rows));
      const request = BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish();
      const body = join(scratch, `batch-${b.rows}.bin`);
      await writeFile(body, frame(request));
      const answer = await batchAnswer(irisPort, model, flowers);
      const replyFile = join(scratch, `batch-${b.rows}-reply.bin`);
      await writeFile(replyFile, answer);
      replyFlags.push("--batch-reply", `${request.length}=${replyFile}`);
      batches.push({ ...b, body, answer: 5 + answer.length });
    }
    const noop = await startServer("no-op", [process.execPath, "--import", "tsx", "scripts/bench-noop-server.ts", ...replyFlags]);
    servers.push(noop);

    // Warm both up (JIT, connection setup paths).
    for (const [s, answer] of [[iris, predictAnswer], [noop, noopAnswer]] as const) {
      await load(s, "Predict", predictBody, Math.round(10_000 * scale), 4, 4, answer);
      for (const b of batches) await load(s, "BatchPredict", b.body, Math.max(20, Math.round(b.requests / 10)), b.clients, b.streams, b.answer);
    }

    const summary = (rs: LoadResult[]) => ({
      reqPerSec: median(rs.map((r) => r.reqPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
    });
    const predictRows: string[] = [];
    const predictJson: unknown[] = [];
    let worstPredict = Infinity;
    for (const { clients, streams } of PREDICT_LEVELS) {
      const runs = await pairs(PAIRS, (which) =>
        which === "iris"
          ? load(iris, "Predict", predictBody, PREDICT_REQUESTS, clients, streams, predictAnswer)
          : load(noop, "Predict", predictBody, PREDICT_REQUESTS, clients, streams, noopAnswer),
      );
      const i = summary(runs.iris);
      const n = summary(runs.noop);
      const ratio = median(runs.ratios);
      worstPredict = Math.min(worstPredict, ratio);
      const inFlight = clients * streams;
      predictRows.push(
        `| ${inFlight} (${clients}×${streams}) | ${Math.round(i.reqPerSec)} | ${i.p50Ms.toFixed(2)} | ${i.p99Ms.toFixed(2)} | ${i.cpuUs.toFixed(1)} | ${Math.round(n.reqPerSec)} | ${n.p50Ms.toFixed(2)} | ${n.p99Ms.toFixed(2)} | ${n.cpuUs.toFixed(1)} | ${(ratio * 100).toFixed(1)} % |`,
      );
      predictJson.push({ clients, streams, iris: runs.iris, noop: runs.noop, ratios: runs.ratios, ratio });
      process.stderr.write(`bench: Predict at ${inFlight} in flight: ${Math.round(i.reqPerSec)} req/s (${(ratio * 100).toFixed(1)} % of no-op)\n`);
    }

    const batchRows: string[] = [];
    const batchJson: unknown[] = [];
    let worstBatch = Infinity;
    const batchFigures: string[] = [];
    for (const b of batches) {
      const runs = await pairs(BATCH_PAIRS, (which) =>
        load(which === "iris" ? iris : noop, "BatchPredict", b.body, b.requests, b.clients, b.streams, b.answer),
      );
      const i = summary(runs.iris);
      const n = summary(runs.noop);
      const ratio = median(runs.ratios);
      worstBatch = Math.min(worstBatch, ratio);
      const cpuRowsPerSec = b.rows / (i.cpuUs / 1e6);
      batchRows.push(
        `| ${b.rows} | ${b.clients * b.streams} | ${((i.reqPerSec * b.rows) / 1e6).toFixed(2)} M | ${i.p50Ms.toFixed(1)} | ${i.p99Ms.toFixed(1)} | ${(cpuRowsPerSec / 1e6).toFixed(2)} M | ${((n.reqPerSec * b.rows) / 1e6).toFixed(2)} M | ${n.p50Ms.toFixed(1)} | ${(ratio * 100).toFixed(1)} % |`,
      );
      batchFigures.push(`${b.rows} rows ${(ratio * 100).toFixed(1)} %`);
      batchJson.push({ rows: b.rows, iris: runs.iris, noop: runs.noop, ratios: runs.ratios, ratio });
      process.stderr.write(`bench: BatchPredict ${b.rows} rows: ${((i.reqPerSec * b.rows) / 1e6).toFixed(2)} M rows/s (${(ratio * 100).toFixed(1)} % of the ceiling)\n`);
    }

    const machine = await machineLine();
    const report = [
      machine,
      `Medians of ${PAIRS} (Predict) and ${BATCH_PAIRS} (BatchPredict) back-to-back iris/no-op pairs; ${PREDICT_REQUESTS} Predict calls per run.`,
      "",
      "Predict (one flower per call):",
      "",
      "| in flight (conns×streams) | iris req/s | p50 ms | p99 ms | CPU µs/call | no-op req/s | p50 ms | p99 ms | CPU µs/call | iris / no-op (req/s) |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...predictRows,
      "",
      "BatchPredict (with probabilities), against a bare grpc-js server answering the same bytes pre-encoded:",
      "",
      "| rows per call | in flight | iris rows/s | p50 ms | p99 ms | rows per server CPU second | ceiling rows/s | p50 ms | iris / ceiling |",
      "|---|---|---|---|---|---|---|---|---|",
      ...batchRows,
      "",
      `Targets: Predict >= ${PREDICT_AIM * 100} % of no-op at every level: ${worstPredict >= PREDICT_AIM ? "met" : "NOT met"} (worst ${(worstPredict * 100).toFixed(1)} %); ` +
        `BatchPredict >= ${BATCH_AIM * 100} % of the ceiling: ${worstBatch >= BATCH_AIM ? "met" : "NOT met"} (${batchFigures.join(", ")}).`,
      "",
    ].join("\n");
    process.stdout.write(report);
    if (flags.json) {
      await writeFile(flags.json, JSON.stringify({ machine, pairs: PAIRS, batchPairs: BATCH_PAIRS, predict: predictJson, batch: batchJson }, null, 2));
    }
  } finally {
    await Promise.all(servers.map(stopServer));
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
