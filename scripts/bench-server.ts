/**
 * Server benchmark (`npm run bench:server`, which builds dist/ first).
 *
 * Runs the compiled server (`node dist/cli/main.js serve`), the same with
 * `--metrics off`, and, as the ceiling, a bare grpc-js server whose
 * handlers do nothing (scripts/bench-noop-server.ts), each as its own
 * process on 127.0.0.1:0.
 * The load comes from h2load (apt-get install nghttp2-client), a separate
 * process speaking gRPC over HTTP/2. Measures:
 *   - Predict requests/s and p50/p99 latency at several concurrency levels,
 *     iris, iris without metrics and no-op back to back (medians of the
 *     rounds), plus the server CPU time per call from /proc: what the server
 *     costs over bare grpc-js, and what counting metrics costs;
 *   - BatchPredict rows/s with 1 000- and 10 000-row batches.
 * With taskset available, the servers run on CPU 0 and h2load on CPU 1.
 *
 * Every h2load run is checked byte for byte (see scripts/bench/lib.ts).
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
import {
  BatchPredictRequest,
  BatchPredictResponse,
  PredictRequest,
  PredictResponse,
  type Flower,
} from "../src/gen/iris.js";
import { loadModelFile, type IrisModel } from "../src/model/index.js";
import {
  benchModelPath,
  frame,
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
/** Predict: rounds of iris, iris without metrics and no-op per level, in rotating order; BatchPredict: rounds. */
const PAIRS = flags.quick ? 1 : 7;
const ROUNDS = flags.quick ? 1 : 3;

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

/** The framed answer the real server must send for `flowers`. */
function expectedBatchBytes(model: IrisModel, flowers: Flower[]): number {
  const rows = flowers.map((f) => [f.sepalLength!, f.sepalWidth!, f.petalLength!, f.petalWidth!]);
  const predictions = rows.map((r) => model.predict(r));
  // The rows outside the model's training range (its training split's) are flagged.
  const masks = rows.map((r) => model.outOfRange(r));
  const flagged = masks.some((m) => m !== 0);
  const response: BatchPredictResponse = {
    modelVersion: model.version,
    classes: [...model.classes],
    classIndices: predictions.map((p) => p.classIndex),
    probabilities: predictions.flatMap((p) => p.probabilities),
    outOfRangeMasks: flagged ? masks : [],
    outOfRangeFeatureNames: flagged ? [...model.featureNames] : [],
  };
  return 5 + BatchPredictResponse.encode(response).finish().length;
}

async function main(): Promise<void> {
  await requireTools();
  scratch = await mkdtemp(join(tmpdir(), "iris-bench-"));
  const servers: ServerProcess[] = [];
  try {
    const path = await benchModelPath(scratch);
    const model = await loadModelFile(path);

    // Request bodies and the exact size of each correct answer.
    const [one] = flowersOf(await irisRows(1));
    const predictBody = join(scratch, "predict.bin");
    await writeFile(predictBody, frame(PredictRequest.encode({ flower: one }).finish()));
    const oneRow = [one!.sepalLength!, one!.sepalWidth!, one!.petalLength!, one!.petalWidth!];
    const p = model.predict(oneRow);
    const predictAnswer =
      5 +
      PredictResponse.encode({
        prediction: {
          species: p.label,
          classIndex: p.classIndex,
          probabilities: p.probabilities,
          outOfRangeFeatures: model.featuresOf(model.outOfRange(oneRow)),
        },
        modelVersion: model.version,
      }).finish().length;
    const noopAnswer = 5 + PredictResponse.encode(PredictResponse.fromPartial({})).finish().length;

    const serve = (metrics: "on" | "off") => [
      process.execPath, "dist/cli/main.js", "serve", "--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--model", path,
      "--log-level", "info", "--metrics", metrics, "--model-poll-interval", "off",
    ];
    const iris = await startServer("iris", serve("on"));
    servers.push(iris);
    const bare = await startServer("iris, metrics off", serve("off"));
    servers.push(bare);
    const noop = await startServer("no-op", [process.execPath, "--import", "tsx", "scripts/bench-noop-server.ts"]);
    servers.push(noop);

    // Warm them up (JIT, connection setup paths).
    for (const [s, answer] of [[iris, predictAnswer], [bare, predictAnswer], [noop, noopAnswer]] as const) {
      await load(s, "Predict", predictBody, Math.round(10_000 * scale), 4, 4, answer);
    }

    const predictRows: string[] = [];
    const metricsRows: string[] = [];
    const predictJson: unknown[] = [];
    let worstRatio = Infinity;
    let worstMetricsRatio = Infinity;
    const ORDERS = [
      ["noop", "iris", "bare"],
      ["iris", "bare", "noop"],
      ["bare", "noop", "iris"],
    ] as const;
    for (const { clients, streams } of PREDICT_LEVELS) {
      // Back-to-back rounds, in rotating order, so that other load on the
      // machine hits the servers alike; each ratio is the median of the
      // rounds' ratios.
      const runs: { iris: LoadResult[]; bare: LoadResult[]; noop: LoadResult[]; ratios: number[]; metricsRatios: number[] } = {
        iris: [],
        bare: [],
        noop: [],
        ratios: [],
        metricsRatios: [],
      };
      for (let pair = 0; pair < PAIRS; pair++) {
        const result: Partial<Record<"iris" | "bare" | "noop", LoadResult>> = {};
        for (const which of ORDERS[pair % ORDERS.length]!) {
          const [s, answer] = which === "iris" ? [iris, predictAnswer] : which === "bare" ? [bare, predictAnswer] : [noop, noopAnswer];
          result[which] = await load(s, "Predict", predictBody, PREDICT_REQUESTS, clients, streams, answer);
        }
        runs.iris.push(result.iris!);
        runs.bare.push(result.bare!);
        runs.noop.push(result.noop!);
        runs.ratios.push(result.iris!.reqPerSec / result.noop!.reqPerSec);
        runs.metricsRatios.push(result.iris!.reqPerSec / result.bare!.reqPerSec);
      }
      const summary = (rs: LoadResult[]) => ({
        reqPerSec: median(rs.map((r) => r.reqPerSec)),
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        cpuUs: median(rs.map((r) => r.cpuUsPerRequest)),
      });
      const i = summary(runs.iris);
      const b = summary(runs.bare);
      const n = summary(runs.noop);
      const ratio = median(runs.ratios);
      const metricsRatio = median(runs.metricsRatios);
      worstRatio = Math.min(worstRatio, ratio);
      worstMetricsRatio = Math.min(worstMetricsRatio, metricsRatio);
      const inFlight = clients * streams;
      predictRows.push(
        `| ${inFlight} (${clients}×${streams}) | ${Math.round(i.reqPerSec)} | ${i.p50Ms.toFixed(2)} | ${i.p99Ms.toFixed(2)} | ${i.cpuUs.toFixed(1)} | ${Math.round(n.reqPerSec)} | ${n.p50Ms.toFixed(2)} | ${n.p99Ms.toFixed(2)} | ${n.cpuUs.toFixed(1)} | ${(ratio * 100).toFixed(1)} % |`,
      );
      metricsRows.push(
        `| ${inFlight} (${clients}×${streams}) | ${Math.round(i.reqPerSec)} | ${i.p99Ms.toFixed(2)} | ${i.cpuUs.toFixed(1)} | ${Math.round(b.reqPerSec)} | ${b.p99Ms.toFixed(2)} | ${b.cpuUs.toFixed(1)} | ${metricsRatio.toFixed(3)}× |`,
      );
      predictJson.push({ clients, streams, iris: runs.iris, metricsOff: runs.bare, noop: runs.noop, ratios: runs.ratios, ratio, metricsRatios: runs.metricsRatios, metricsRatio });
      process.stderr.write(
        `bench: Predict at ${inFlight} in flight: ${Math.round(i.reqPerSec)} req/s (${(ratio * 100).toFixed(1)} % of no-op; ${metricsRatio.toFixed(3)}× of metrics off)\n`,
      );
    }

    const batchRows: string[] = [];
    const batchJson: unknown[] = [];
    let rowsPerSec10k = 0;
    for (const b of BATCHES) {
      const flowers = flowersOf(await irisRows(b.rows));
      const body = join(scratch, `batch-${b.rows}.bin`);
      await writeFile(body, frame(BatchPredictRequest.encode({ flowers, omitProbabilities: false }).finish()));
      const answer = expectedBatchBytes(model, flowers);
      await load(iris, "BatchPredict", body, Math.max(20, Math.round(b.requests / 10)), b.clients, b.streams, answer);
      const runs: LoadResult[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        runs.push(await load(iris, "BatchPredict", body, b.requests, b.clients, b.streams, answer));
      }
      const reqPerSec = median(runs.map((r) => r.reqPerSec));
      const rowsPerSec = reqPerSec * b.rows;
      if (b.rows === 10_000) rowsPerSec10k = rowsPerSec;
      const cpuRowsPerSec = b.rows / (median(runs.map((r) => r.cpuUsPerRequest)) / 1e6);
      batchRows.push(
        `| ${b.rows} | ${b.clients * b.streams} | ${reqPerSec.toFixed(1)} | ${(rowsPerSec / 1e6).toFixed(2)} M | ${median(runs.map((r) => r.p50Ms)).toFixed(1)} | ${median(runs.map((r) => r.p99Ms)).toFixed(1)} | ${(cpuRowsPerSec / 1e6).toFixed(2)} M |`,
      );
      batchJson.push({ rows: b.rows, runs, rowsPerSec });
      process.stderr.write(`bench: BatchPredict ${b.rows} rows: ${(rowsPerSec / 1e6).toFixed(2)} M rows/s\n`);
    }

    const machine = await machineLine();
    const report = [
      machine,
      `Predict: medians of ${PAIRS} back-to-back rounds of ${PREDICT_REQUESTS} calls to each server; BatchPredict: medians of ${ROUNDS} rounds.`,
      "",
      "Predict (one flower per call):",
      "",
      "| in flight (conns×streams) | iris req/s | p50 ms | p99 ms | CPU µs/call | no-op req/s | p50 ms | p99 ms | CPU µs/call | iris / no-op (req/s) |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...predictRows,
      "",
      "Predict with metrics (the default) and with --metrics off:",
      "",
      "| in flight (conns×streams) | metrics on req/s | p99 ms | CPU µs/call | metrics off req/s | p99 ms | CPU µs/call | on / off (req/s) |",
      "|---|---|---|---|---|---|---|---|",
      ...metricsRows,
      "",
      "BatchPredict (with probabilities):",
      "",
      "| rows per call | in flight | calls/s | rows/s | p50 ms | p99 ms | rows per server CPU second |",
      "|---|---|---|---|---|---|---|",
      ...batchRows,
      "",
      `Targets: Predict >= 85 % of no-op at every level: ${worstRatio >= 0.85 ? "met" : "NOT met"} (worst ${(worstRatio * 100).toFixed(1)} %); ` +
        `Predict with metrics >= 0.95× without: ${worstMetricsRatio >= 0.95 ? "met" : "NOT met"} (worst ${worstMetricsRatio.toFixed(3)}×); ` +
        `BatchPredict 10k-row >= 1.5 M rows/s: ${rowsPerSec10k >= 1.5e6 ? "met" : "NOT met"} (${(rowsPerSec10k / 1e6).toFixed(2)} M).`,
      "",
    ].join("\n");
    process.stdout.write(report);
    if (flags.json) {
      await writeFile(flags.json, JSON.stringify({ machine, pairs: PAIRS, rounds: ROUNDS, predict: predictJson, batch: batchJson }, null, 2));
    }
  } finally {
    await Promise.all(servers.map(stopServer));
    await rm(scratch, { recursive: true, force: true });
  }
}

await main();
