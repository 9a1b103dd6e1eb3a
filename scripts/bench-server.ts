/**
 * Server benchmark (`npm run bench:server`, which builds dist/ first).
 *
 * Runs the compiled server (`node dist/cli/main.js serve`), the same with
 * `--metrics off`, and, as the ceiling, a bare grpc-js server
 * (scripts/bench-noop-server.ts): its Predict answers an empty message, its
 * BatchPredict a pre-encoded reply, the bytes the real server answered to
 * the same request, without decoding anything. Each is its own process on
 * 127.0.0.1:0. The load comes from h2load (apt-get install nghttp2-client),
 * a separate process speaking gRPC over HTTP/2. Measures, in back-to-back
 * rounds in rotating order (so that other load on the machine hits the
 * servers alike; medians of the rounds' ratios):
 *   - Predict requests/s and p50/p99 latency at 1, 16 and 128 calls in
 *     flight, iris, iris without metrics and no-op, plus the server CPU
 *     time per call from /proc: what the server costs over bare grpc-js,
 *     and what counting metrics costs;
 *   - Predict side by side: iris and the no-op loaded at the same time, both
 *     on CPU 0, by two h2load processes for a fixed time; the server CPU
 *     time per call of each. Whatever else the machine runs then (other
 *     tenants, cache pressure) weighs on both alike. Not the aim's method
 *     (that is the rounds above); it tells the two servers' own cost apart
 *     from how each fares alone on the core;
 *   - BatchPredict rows/s with 1 000- and 10 000-row batches, iris (metrics
 *     on, the default) against the ceiling.
 * With taskset available, the servers run on CPU 0 and h2load on CPU 1.
 *
 * Every h2load run is checked byte for byte (see scripts/bench/lib.ts), and
 * the real server's batch answers are checked against the model first.
 *
 *   npm run bench:server [-- --quick] [-- --json results.json]
 *
 * --quick runs one round of a fifth of the requests (a smoke run; noisy).
 *
 * The model is IRIS_MODEL, else artifacts/model.json; when neither exists, a
 * model is trained into a temporary directory first.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BatchPredictRequest, PredictRequest, PredictResponse, type Flower } from "../src/gen/iris.js";
import { loadModelFile, type IrisModel } from "../src/model/index.js";
import {
  benchModelPath,
  expectedBatchAnswer,
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
/** Predict: rounds of iris, iris without metrics and no-op per level; BatchPredict: iris/no-op pairs per batch size. */
const PAIRS = flags.quick ? 1 : 7;
/** Predict side by side (see the header): runs per level, and how long each loads. */
const SIDE_RUNS = flags.quick ? 1 : 3;
const SIDE_SECONDS = flags.quick ? 2 : 5;
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
/**
 * The aims: Predict at least this share of the no-op server's calls/s at
 * every level, and with metrics this share of it without; BatchPredict this
 * share of the ceiling's rows/s.
 */
const PREDICT_AIM = 0.95;
const METRICS_AIM = 0.95;
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
  durationSeconds?: number,
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
    ...(durationSeconds === undefined ? {} : { durationSeconds }),
    logFile: join(scratch, `h2load-${++runs}.log`),
  });
}

function flowersOf(rows: number[][]): Flower[] {
  return rows.map(([sepalLength, sepalWidth, petalLength, petalWidth]) => ({ sepalLength, sepalWidth, petalLength, petalWidth }));
}

/**
 * The real server's answer to `flowers`, checked against the model: every
 * class index and probability exactly as the model module computes them,
 * and the rows outside the model's training range (its training split's)
 * flagged.
 */
async function batchAnswer(port: number, model: IrisModel, flowers: Flower[]): Promise<Buffer> {
  const answer = await grpcAnswer(port, "/iris.v1.IrisService/BatchPredict", BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish());
  const rows = flowers.map((f) => [f.sepalLength!, f.sepalWidth!, f.petalLength!, f.petalWidth!]);
  const expected = expectedBatchAnswer(model, rows);
  if (!answer.equals(expected)) throw new Error(`the server's answer to ${flowers.length} flowers is not the model's`);
  return answer;
}

type Which = "iris" | "bare" | "noop";

/**
 * Runs `measure` for each of `servers` in back-to-back rounds, rotating
 * which goes first; `ratio(a, b)` is the median of the rounds' ratios of
 * a's requests/s to b's.
 */
async function rounds(
  count: number,
  servers: readonly Which[],
  measure: (which: Which) => Promise<LoadResult>,
): Promise<{ results: Record<Which, LoadResult[]>; ratios: (a: Which, b: Which) => number[] }> {
  const results: Record<Which, LoadResult[]> = { iris: [], bare: [], noop: [] };
  for (let round = 0; round < count; round++) {
    for (let k = 0; k < servers.length; k++) {
      const which = servers[(round + k) % servers.length]!;
      results[which].push(await measure(which));
    }
  }
  return { results, ratios: (a, b) => results[a].map((r, i) => r.reqPerSec / results[b][i]!.reqPerSec) };
}

async function main(): Promise<void> {
  await requireTools();
  scratch = await mkdtemp(join(tmpdir(), "iris-bench-"));
  const servers: ServerProcess[] = [];
  try {
    const path = await benchModelPath(scratch);
    const model = await loadModelFile(path);

    const serve = (metrics: "on" | "off") => [
      process.execPath, "dist/cli/main.js", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", path,
      "--log-level", "info", "--metrics", metrics, "--model-poll-interval", "off",
    ];
    const iris = await startServer("iris", serve("on"));
    servers.push(iris);
    const bare = await startServer("iris, metrics off", serve("off"));
    servers.push(bare);
    const irisPort = iris.serving.port as number;

    // Request bodies, and each correct answer (checked against the model).
    const [one] = flowersOf(await irisRows(1));
    const predictRequest = PredictRequest.encode({ flower: one }).finish();
    const predictBody = join(scratch, "predict.bin");
    await writeFile(predictBody, frame(predictRequest));
    const oneRow = [one!.sepalLength!, one!.sepalWidth!, one!.petalLength!, one!.petalWidth!];
    const p = model.predict(oneRow);
    const expectedPredict = PredictResponse.encode({
      prediction: { species: p.label, classIndex: p.classIndex, probabilities: p.probabilities, outOfRangeFeatures: model.featuresOf(model.outOfRange(oneRow)) },
      modelVersion: model.version,
    }).finish();
    for (const s of [iris, bare]) {
      const answer = await grpcAnswer(s.serving.port as number, "/iris.v1.IrisService/Predict", predictRequest);
      if (!answer.equals(expectedPredict)) throw new Error(`the ${s.name} server's Predict answer is not the model's`);
    }
    const predictAnswer = 5 + expectedPredict.length;
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

    // Warm them up (JIT, connection setup paths).
    for (const [s, answer] of [[iris, predictAnswer], [bare, predictAnswer], [noop, noopAnswer]] as const) {
      await load(s, "Predict", predictBody, Math.round(10_000 * scale), 4, 4, answer);
    }
    for (const s of [iris, noop]) {
      for (const b of batches) await load(s, "BatchPredict", b.body, Math.max(20, Math.round(b.requests / 10)), b.clients, b.streams, b.answer);
    }
    const byName = { iris, bare, noop };

    const summary = (rs: LoadResult[]) => ({
      reqPerSec: median(rs.map((r) => r.reqPerSec)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
    });
    const predictRows: string[] = [];
    const metricsRows: string[] = [];
    const sideRows: string[] = [];
    const predictJson: unknown[] = [];
    let worstPredict = Infinity;
    let worstMetrics = Infinity;
    for (const { clients, streams } of PREDICT_LEVELS) {
      const { results, ratios } = await rounds(PAIRS, ["noop", "iris", "bare"], (which) =>
        load(byName[which], "Predict", predictBody, PREDICT_REQUESTS, clients, streams, which === "noop" ? noopAnswer : predictAnswer),
      );
      const i = summary(results.iris);
      const b = summary(results.bare);
      const n = summary(results.noop);
      const ratio = median(ratios("iris", "noop"));
      const metricsRatio = median(ratios("iris", "bare"));
      const side: { iris: LoadResult; noop: LoadResult }[] = [];
      for (let k = 0; k < SIDE_RUNS; k++) {
        const [irisRun, noopRun] = await Promise.all([
          load(iris, "Predict", predictBody, 0, clients, streams, predictAnswer, SIDE_SECONDS),
          load(noop, "Predict", predictBody, 0, clients, streams, noopAnswer, SIDE_SECONDS),
        ]);
        side.push({ iris: irisRun, noop: noopRun });
      }
      const sideCpu = median(side.map((r) => r.iris.cpuUsPerRequest / r.noop.cpuUsPerRequest));
      worstPredict = Math.min(worstPredict, ratio);
      worstMetrics = Math.min(worstMetrics, metricsRatio);
      const inFlight = clients * streams;
      predictRows.push(
        `| ${inFlight} (${clients}×${streams}) | ${Math.round(i.reqPerSec)} | ${i.p50Ms.toFixed(2)} | ${i.p99Ms.toFixed(2)} | ${i.cpuUs.toFixed(1)} | ${Math.round(n.reqPerSec)} | ${n.p50Ms.toFixed(2)} | ${n.p99Ms.toFixed(2)} | ${n.cpuUs.toFixed(1)} | ${(ratio * 100).toFixed(1)} % |`,
      );
      metricsRows.push(
        `| ${inFlight} (${clients}×${streams}) | ${Math.round(i.reqPerSec)} | ${i.p99Ms.toFixed(2)} | ${i.cpuUs.toFixed(1)} | ${Math.round(b.reqPerSec)} | ${b.p99Ms.toFixed(2)} | ${b.cpuUs.toFixed(1)} | ${metricsRatio.toFixed(3)}× |`,
      );
      predictJson.push({
        clients,
        streams,
        iris: results.iris,
        metricsOff: results.bare,
        noop: results.noop,
        ratios: ratios("iris", "noop"),
        ratio,
        metricsRatios: ratios("iris", "bare"),
        metricsRatio,
        sideBySide: side,
        sideBySideCpuRatio: sideCpu,
      });
      sideRows.push(
        `| ${clients * streams} (${clients}×${streams}) | ${median(side.map((r) => r.iris.cpuUsPerRequest)).toFixed(1)} | ${median(side.map((r) => r.noop.cpuUsPerRequest)).toFixed(1)} | ${sideCpu.toFixed(3)}× | ${median(results.iris.map((r) => r.cpuUsPerRequest)).toFixed(1)} | ${median(results.noop.map((r) => r.cpuUsPerRequest)).toFixed(1)} | ${(median(results.iris.map((r) => r.cpuUsPerRequest)) / median(results.noop.map((r) => r.cpuUsPerRequest))).toFixed(3)}× |`,
      );
      process.stderr.write(
        `bench: Predict at ${inFlight} in flight: ${Math.round(i.reqPerSec)} req/s (${(ratio * 100).toFixed(1)} % of no-op; ${metricsRatio.toFixed(3)}× of metrics off; CPU per call side by side ${sideCpu.toFixed(3)}× the no-op's)\n`,
      );
    }

    const batchRows: string[] = [];
    const batchJson: unknown[] = [];
    let worstBatch = Infinity;
    const batchFigures: string[] = [];
    for (const b of batches) {
      const { results, ratios } = await rounds(BATCH_PAIRS, ["noop", "iris"], (which) =>
        load(byName[which], "BatchPredict", b.body, b.requests, b.clients, b.streams, b.answer),
      );
      const i = summary(results.iris);
      const n = summary(results.noop);
      const ratio = median(ratios("iris", "noop"));
      worstBatch = Math.min(worstBatch, ratio);
      const cpuRowsPerSec = b.rows / (i.cpuUs / 1e6);
      batchRows.push(
        `| ${b.rows} | ${b.clients * b.streams} | ${((i.reqPerSec * b.rows) / 1e6).toFixed(2)} M | ${i.p50Ms.toFixed(1)} | ${i.p99Ms.toFixed(1)} | ${(cpuRowsPerSec / 1e6).toFixed(2)} M | ${((n.reqPerSec * b.rows) / 1e6).toFixed(2)} M | ${n.p50Ms.toFixed(1)} | ${(ratio * 100).toFixed(1)} % |`,
      );
      batchFigures.push(`${b.rows} rows ${(ratio * 100).toFixed(1)} %`);
      batchJson.push({ rows: b.rows, iris: results.iris, noop: results.noop, ratios: ratios("iris", "noop"), ratio });
      process.stderr.write(`bench: BatchPredict ${b.rows} rows: ${((i.reqPerSec * b.rows) / 1e6).toFixed(2)} M rows/s (${(ratio * 100).toFixed(1)} % of the ceiling)\n`);
    }

    const machine = await machineLine();
    const report = [
      machine,
      `Medians of ${PAIRS} back-to-back rounds (Predict: iris, iris with --metrics off, no-op; ${PREDICT_REQUESTS} calls per run) and ${BATCH_PAIRS} iris/no-op pairs (BatchPredict).`,
      "",
      "Predict (one flower per call):",
      "",
      "| in flight (conns×streams) | iris req/s | p50 ms | p99 ms | CPU µs/call | no-op req/s | p50 ms | p99 ms | CPU µs/call | iris / no-op (req/s) |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...predictRows,
      "",
      `Predict server CPU per call, side by side (iris and no-op loaded at once for ${SIDE_SECONDS} s, median of ${SIDE_RUNS}) and alone (the rounds above):`,
      "",
      "| in flight (conns×streams) | side by side: iris µs/call | no-op µs/call | iris / no-op | alone: iris µs/call | no-op µs/call | iris / no-op |",
      "|---|---|---|---|---|---|---|",
      ...sideRows,
      "",
      "Predict with metrics (the default) and with --metrics off:",
      "",
      "| in flight (conns×streams) | metrics on req/s | p99 ms | CPU µs/call | metrics off req/s | p99 ms | CPU µs/call | on / off (req/s) |",
      "|---|---|---|---|---|---|---|---|",
      ...metricsRows,
      "",
      "BatchPredict (with probabilities), against a bare grpc-js server answering the same bytes pre-encoded:",
      "",
      "| rows per call | in flight | iris rows/s | p50 ms | p99 ms | rows per server CPU second | ceiling rows/s | p50 ms | iris / ceiling |",
      "|---|---|---|---|---|---|---|---|---|",
      ...batchRows,
      "",
      `Targets: Predict >= ${PREDICT_AIM * 100} % of no-op at every level: ${worstPredict >= PREDICT_AIM ? "met" : "NOT met"} (worst ${(worstPredict * 100).toFixed(1)} %); ` +
        `Predict with metrics >= ${METRICS_AIM}× without: ${worstMetrics >= METRICS_AIM ? "met" : "NOT met"} (worst ${worstMetrics.toFixed(3)}×); ` +
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
